/**
 * The demo "applications" the netns mesh test (and the local demo) run
 * inside pods, as one small CLI so each is a real, separate process:
 *
 *   node netns-apps.js http-server <port>             JSON echo of who called (weft-client-id), host, path
 *   node netns-apps.js http-server <port> [host]      JSON echo of the request (host: default 0.0.0.0)
 *   node netns-apps.js tcp-echo <port>                opaque echo, honours half-close
 *   node netns-apps.js tcp-client <host> <port> <text|->   prints what came back, after half-closing (- = stdin)
 *   node netns-apps.js grpc-server <port>             weft.test.Echo: Chat (bidi) and Count (server streaming)
 *   node netns-apps.js grpc-client <host:port> <n>    n Chat messages + Count(n); prints one JSON line
 *
 * gRPC uses @grpc/grpc-js with raw-bytes methods: an independent gRPC
 * implementation, so the mesh is tested against a peer it did not write.
 */
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';

const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Chat: {
    path: '/weft.test.Echo/Chat',
    requestStream: true,
    responseStream: true,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  },
  Count: {
    path: '/weft.test.Echo/Count',
    requestStream: false,
    responseStream: true,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  },
};

function httpServer(port: number, host = '0.0.0.0'): void {
  http
    .createServer((req, res) => {
      let body = 0;
      req.on('data', (c: Buffer) => (body += c.length));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ clientId: req.headers['weft-client-id'] ?? null, host: req.headers.host, method: req.method, path: req.url, bodyBytes: body }));
      });
    })
    .listen(port, host, () => console.log(`http-server listening on ${host}:${port}`));
}

function tcpEcho(port: number): void {
  net
    .createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    })
    .listen(port, '0.0.0.0', () => console.log(`tcp-echo listening on ${port}`));
}

function tcpClient(host: string, port: number, text: string): void {
  const s = net.connect({ host, port, allowHalfOpen: true });
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  s.on('end', () => {
    process.stdout.write(got);
    s.end();
  });
  s.on('error', (err) => {
    console.error(`tcp-client: ${err.message}`);
    process.exit(3);
  });
  s.write(text);
  s.end();
}

function grpcServer(port: number): void {
  const server = new grpc.Server();
  const clientId = (call: { metadata: grpc.Metadata }): string => String(call.metadata.get('weft-client-id')[0] ?? 'none');
  server.addService(ECHO_SERVICE, {
    Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const who = clientId(call);
      call.on('data', (m: Buffer) => call.write(Buffer.from(`${who}|${m.toString()}`)));
      call.on('end', () => {
        const trailer = new grpc.Metadata();
        trailer.set('x-echo-trailer', 'chat-done');
        call.end(trailer);
      });
    },
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 1; i <= n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    console.log(`grpc-server listening on ${port}`);
  });
}

async function grpcClient(target: string, n: number): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const client = new Client(target, grpc.credentials.createInsecure()) as unknown as {
    Chat(): grpc.ClientDuplexStream<Buffer, Buffer>;
    Count(req: Buffer): grpc.ClientReadableStream<Buffer>;
    close(): void;
  };
  const chat = await new Promise<{ replies: string[]; code: number; trailer: string | undefined }>((resolve) => {
    const call = client.Chat();
    const replies: string[] = [];
    let sent = 0;
    call.on('data', (m: Buffer) => {
      replies.push(m.toString());
      // Ping-pong: the next message goes only after the reply, so both directions really stream.
      if (sent < n) call.write(Buffer.from(`msg-${++sent}`));
      else call.end();
    });
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => resolve({ replies, code: s.code, trailer: s.metadata.get('x-echo-trailer')[0]?.toString() }));
    call.write(Buffer.from(`msg-${++sent}`));
  });
  const count = await new Promise<{ items: string[]; code: number }>((resolve) => {
    const items: string[] = [];
    const call = client.Count(Buffer.from(String(n)));
    call.on('data', (m: Buffer) => items.push(m.toString()));
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => resolve({ items, code: s.code }));
  });
  client.close();
  process.stdout.write(`${JSON.stringify({ chat, count })}\n`);
}

const [role, ...args] = process.argv.slice(2);
switch (role) {
  case 'http-server':
    httpServer(Number(args[0]), args[1]);
    break;
  case 'tcp-echo':
    tcpEcho(Number(args[0]));
    break;
  case 'tcp-client': {
    // `-` reads the payload from stdin (large payloads do not fit in argv).
    let text = args[2] ?? '';
    if (text === '-') {
      text = '';
      for await (const chunk of process.stdin) text += (chunk as Buffer).toString();
    }
    tcpClient(args[0]!, Number(args[1]), text);
    break;
  }
  case 'grpc-server':
    grpcServer(Number(args[0]));
    break;
  case 'grpc-client':
    await grpcClient(args[0]!, Number(args[1] ?? 3));
    break;
  default:
    console.error('usage: netns-apps.js http-server|tcp-echo|tcp-client|grpc-server|grpc-client …');
    process.exit(2);
}
