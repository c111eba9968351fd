// Loaded with `node --import` into a proxy a bench measures (weft-proxy.mjs, or the image's main in startup.mjs):
// SIGUSR2 prints `MEMORY <process.memoryUsage() in bytes>` on stdout — where the RSS goes: heap, external, array
// buffers — with `afterGc` (the same after a full collection: what is live) when --expose-gc is on.
process.on('SIGUSR2', () => {
  const usage = process.memoryUsage();
  if (globalThis.gc) globalThis.gc();
  process.stdout.write(`MEMORY ${JSON.stringify({ ...usage, ...(globalThis.gc ? { afterGc: process.memoryUsage() } : {}) })}\n`);
});
