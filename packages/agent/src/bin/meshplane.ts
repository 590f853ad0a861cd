// Entry point: unhandled rejections crash loudly; everything else is cli/main.ts.
process.on('unhandledRejection', err => { throw err })
const { main } = await import('../cli/main.js')
await main(process.argv)
