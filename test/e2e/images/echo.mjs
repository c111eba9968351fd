// The `weft-e2e/echo` demo image: an HTTP server that answers every request
// with who served it (pod name, namespace, address) and what it was asked,
// so scenarios can tell which endpoint a Service routed them to.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? process.argv[2] ?? 8080);
const identity = { pod: process.env.POD_NAME ?? null, namespace: process.env.POD_NAMESPACE ?? null, ip: process.env.POD_IP ?? null };

const server = createServer((req, res) => {
  if (req.url === '/ready') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  // weft-client-id: the caller's mesh identity, as the inbound proxy told the app (absent when unmeshed).
  const body = JSON.stringify({ ...identity, method: req.method, path: req.url, host: req.headers.host ?? null, from: req.socket.remoteAddress, clientId: req.headers['weft-client-id'] ?? null });
  res.writeHead(200, { 'content-type': 'application/json' }).end(`${body}\n`);
});
server.listen(port, '0.0.0.0', () => console.log(`echo listening on ${port} as ${identity.namespace}/${identity.pod}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
