export { Mesh, type MeshComponents, type MeshInit, type MeshEvents, type LivenessNewsEvent, type ProbeResponder, type MeshCounters, shuffle } from './mesh.js'
export { parseSeed, DEFAULT_MESH_PORT } from './address.js'
export * from './constants.js'
