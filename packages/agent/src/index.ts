export { Agent } from './agent.js'
export { MeshplaneError, type ErrorCode } from './errors.js'
export { ApiClient } from './cli/client.js'
