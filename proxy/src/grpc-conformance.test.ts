// gRPC through the mesh exactly as without it, tested with @grpc/grpc-js — a
// gRPC implementation weft does not use itself — as both client and server.
// Every case runs three ways: direct (the reference), through one proxy (the
// server's inbound, plaintext h2c) and through two (client outbound → mTLS →
// server inbound). Each case must give through weft what it gives directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';

const AUTHORITY = 'grpc.test.svc:8080';
const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/weft.conformance.Test/${name}`,
  requestStream,
  responseStream,
  requestSerialize: bytes.serialize,
  requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize,
  responseDeserialize: bytes.deserialize,
});
const SERVICE = {
  Unary: method('Unary', false, false),
  Fail: method('Fail', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
  Slow: method('Slow', false, false),
  Big: method('Big', false, true),
  Reset: method('Reset', false, true),
} satisfies grpc.ServiceDefinition;
// A method the server does not implement: the client's stub knows it, the server answers UNIMPLEMENTED (trailers-only).
const UNKNOWN = { ...SERVICE, Missing: method('Missing', false, false) };

type AnyClient = Record<string, (...args: never[]) => unknown> & grpc.Client;

const UNICODE_MESSAGE = 'café ☕ not found: 100% sure / ünïcödé';
let cancelledOnServer = 0;
let server: grpc.Server;
let serverPort: number;
let mesh: Mesh;

before(async () => {
  server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  server.addService(SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = new grpc.Metadata();
      md.set('x-echo-bin', call.metadata.get('x-req-bin')[0] ?? Buffer.alloc(0));
      call.sendMetadata(md);
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer-bin', Buffer.from([0, 1, 2, 255]));
      cb(null, call.request, trailer);
    },
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = new grpc.Metadata();
      md.set('x-why-bin', Buffer.from([9, 8, 7]));
      cb({ code: grpc.status.NOT_FOUND, details: UNICODE_MESSAGE, metadata: md });
    },
    ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`item-${i}`));
      call.end();
    },
    ClientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let total = 0;
      call.on('data', (m: Buffer) => (total += m.length));
      call.on('end', () => cb(null, Buffer.from(String(total))));
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (m: Buffer) => call.write(Buffer.concat([Buffer.from('echo:'), m])));
      call.on('end', () => call.end());
    },
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const timer = setTimeout(() => cb(null, Buffer.from('late')), 30_000);
      call.on('cancelled', () => {
        cancelledOnServer++;
        clearTimeout(timer);
      });
    },
    Big: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const size = Number(call.request.toString());
      call.write(Buffer.alloc(size, 7));
      call.end();
    },
    Reset: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(Buffer.from('partial'));
      // The server goes away mid-stream: its HTTP/2 stream is reset.
      setTimeout(() => (call as unknown as { call: { stream: { close(code: number): void } } }).call?.stream?.close(2), 50);
    },
  });
  serverPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  mesh = await startMesh({ appPort: serverPort });
  mesh.discovery.set(AUTHORITY, [endpoint('127.0.0.1', serverPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
});

after(async () => {
  await mesh?.close();
  server?.forceShutdown();
});

const PATHS = {
  direct: () => `127.0.0.1:${serverPort}`,
  'one proxy': () => `127.0.0.1:${mesh.server.ports.inbound}`,
  'two proxies': () => `127.0.0.1:${mesh.client.ports.outbound}`,
} as const;

function client(via: keyof typeof PATHS, options: grpc.ChannelOptions = {}): AnyClient {
  const Ctor = grpc.makeGenericClientConstructor(UNKNOWN, 'Test');
  return new Ctor(PATHS[via](), grpc.credentials.createInsecure(), {
    'grpc.default_authority': AUTHORITY,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    ...options,
  }) as unknown as AnyClient;
}

interface Outcome {
  code: number;
  details: string;
  messages: string[];
  headerBin?: string;
  trailerBin?: string;
}

function unary(c: AnyClient, name: string, req: Buffer, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c[name] as unknown as (r: Buffer, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Buffer) => void) => grpc.ClientUnaryCall)(req, md, opts, (err, value) => {
      if (value) out.messages.push(value.toString('latin1').slice(0, 64));
      if (err) {
        out.code = err.code;
        out.details = err.details;
        out.trailerBin = err.metadata?.get('x-why-bin')[0]?.toString('hex');
      }
    });
    call.on('metadata', (m: grpc.Metadata) => (out.headerBin = m.get('x-echo-bin')[0]?.toString('hex')));
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      out.trailerBin ??= s.metadata.get('x-trailer-bin')[0]?.toString('hex');
      resolve(out);
    });
  });
}

function serverStream(c: AnyClient, name: string, req: Buffer, reader?: (m: Buffer) => Promise<void>): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c[name] as unknown as (r: Buffer) => grpc.ClientReadableStream<Buffer>)(req);
    call.on('data', (m: Buffer) => {
      out.messages.push(m.length > 64 ? `${m.length} bytes` : m.toString());
      if (reader) {
        call.pause();
        void reader(m).then(() => call.resume());
      }
    });
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      resolve(out);
    });
  });
}

/** Runs a case directly and through one and two proxies; each through-weft outcome must equal the direct one. */
async function conform(name: string, run: (c: AnyClient, via: keyof typeof PATHS) => Promise<Outcome>, expect: (o: Outcome) => void): Promise<void> {
  const results: Record<string, Outcome> = {};
  for (const via of Object.keys(PATHS) as Array<keyof typeof PATHS>) {
    const c = client(via);
    try {
      // Through JSON, so a field left undefined and a field never set compare equal.
      results[via] = JSON.parse(JSON.stringify(await run(c, via))) as Outcome;
    } finally {
      c.close();
    }
  }
  expect(results.direct!);
  assert.deepEqual(results['one proxy'], results.direct, `${name}: one proxy differs from direct`);
  assert.deepEqual(results['two proxies'], results.direct, `${name}: two proxies differ from direct`);
}

test('unary with -bin metadata in headers and trailers', { timeout: 60_000 }, async () => {
  const md = new grpc.Metadata();
  md.set('x-req-bin', Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]));
  await conform('unary', (c) => unary(c, 'Unary', Buffer.from('hello'), md), (o) => {
    assert.equal(o.code, grpc.status.OK);
    assert.deepEqual(o.messages, ['hello']);
    assert.equal(o.headerBin, 'dead00beef');
    assert.equal(o.trailerBin, '000102ff');
  });
});

test('trailers-only error: UNIMPLEMENTED for an unknown method', { timeout: 60_000 }, async () => {
  await conform('unimplemented', (c) => unary(c, 'Missing', Buffer.from('x')), (o) => assert.equal(o.code, grpc.status.UNIMPLEMENTED));
});

test('trailers-only error with a percent-encoded Unicode message and -bin trailer metadata', { timeout: 60_000 }, async () => {
  await conform('not found', (c) => unary(c, 'Fail', Buffer.from('x')), (o) => {
    assert.equal(o.code, grpc.status.NOT_FOUND);
    assert.equal(o.details, UNICODE_MESSAGE);
    assert.equal(o.trailerBin, '090807');
  });
  // The proxies count it as the failure it is, with its gRPC status.
  const text = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  assert.ok(metricValue(text, 'response_total', { direction: 'inbound', grpc_status: '5', classification: 'failure' }) >= 2, text);
});

test('server streaming, and an empty server stream', { timeout: 60_000 }, async () => {
  await conform('server stream', (c) => serverStream(c, 'ServerStream', Buffer.from('5')), (o) => {
    assert.equal(o.code, grpc.status.OK);
    assert.deepEqual(o.messages, ['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
  });
  await conform('empty stream', (c) => serverStream(c, 'ServerStream', Buffer.from('0')), (o) => {
    assert.equal(o.code, grpc.status.OK);
    assert.deepEqual(o.messages, []);
  });
});

test('client streaming and bidi streaming', { timeout: 60_000 }, async () => {
  await conform('client stream', (c) => new Promise<Outcome>((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c.ClientStream as unknown as (cb: (e: grpc.ServiceError | null, v?: Buffer) => void) => grpc.ClientWritableStream<Buffer>)((err, v) => {
      if (v) out.messages.push(v.toString());
      if (err) out.details = err.details;
    });
    call.on('status', (s: grpc.StatusObject) => resolve({ ...out, code: s.code }));
    for (let i = 0; i < 10; i++) call.write(Buffer.alloc(1000));
    call.end();
  }), (o) => assert.deepEqual(o.messages, ['10000']));
  await conform('bidi', (c) => new Promise<Outcome>((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c.Bidi as unknown as () => grpc.ClientDuplexStream<Buffer, Buffer>)();
    let sent = 0;
    call.on('data', (m: Buffer) => {
      out.messages.push(m.toString());
      if (sent < 5) call.write(Buffer.from(`m${sent++}`));
      else call.end();
    });
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => resolve({ ...out, code: s.code }));
    call.write(Buffer.from(`m${sent++}`));
  }), (o) => assert.deepEqual(o.messages, ['echo:m0', 'echo:m1', 'echo:m2', 'echo:m3', 'echo:m4']));
});

test('a deadline ends the call with DEADLINE_EXCEEDED and the server sees the cancellation', { timeout: 60_000 }, async () => {
  await conform('deadline', async (c) => {
    const before = cancelledOnServer;
    const o = await unary(c, 'Slow', Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 300 });
    // The server learns of it (grpc-timeout propagated, or the reset travelled back).
    for (let i = 0; i < 200 && cancelledOnServer === before; i++) await new Promise((r) => setTimeout(r, 20));
    return { ...o, details: '', messages: cancelledOnServer > before ? ['server cancelled'] : [] };
  }, (o) => {
    assert.equal(o.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(o.messages, ['server cancelled']);
  });
});

test('client cancellation reaches the server', { timeout: 60_000 }, async () => {
  await conform('cancel', async (c) => {
    const before = cancelledOnServer;
    const o = await new Promise<Outcome>((resolve) => {
      const call = (c.Slow as unknown as (r: Buffer, cb: () => void) => grpc.ClientUnaryCall)(Buffer.from('x'), () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: '', messages: [] }));
      setTimeout(() => call.cancel(), 200);
    });
    for (let i = 0; i < 200 && cancelledOnServer === before; i++) await new Promise((r) => setTimeout(r, 20));
    return { ...o, messages: cancelledOnServer > before ? ['server cancelled'] : [] };
  }, (o) => {
    assert.equal(o.code, grpc.status.CANCELLED);
    assert.deepEqual(o.messages, ['server cancelled']);
  });
});

test('an 8 MiB message under flow control with a slow reader', { timeout: 120_000 }, async () => {
  await conform('big', (c) => serverStream(c, 'Big', Buffer.from(String(8 * 1024 * 1024)), () => new Promise((r) => setTimeout(r, 200))), (o) => {
    assert.equal(o.code, grpc.status.OK);
    assert.deepEqual(o.messages, [`${8 * 1024 * 1024} bytes`]);
  });
});

test('gzip-compressed messages pass through untouched', { timeout: 60_000 }, async () => {
  const results: Outcome[] = [];
  for (const via of Object.keys(PATHS) as Array<keyof typeof PATHS>) {
    const c = client(via, { 'grpc.default_compression_algorithm': 2 /* gzip */ });
    try {
      results.push(await unary(c, 'Unary', Buffer.alloc(100_000, 'a')));
    } finally {
      c.close();
    }
  }
  for (const r of results) {
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.messages[0], 'a'.repeat(64));
  }
});

test('many concurrent streams on one connection', { timeout: 120_000 }, async () => {
  await conform('concurrent', async (c) => {
    const all = await Promise.all(Array.from({ length: 300 }, (_, i) => unary(c, 'Unary', Buffer.from(`n${i}`))));
    return { code: all.every((o) => o.code === 0) ? 0 : 2, details: '', messages: [String(all.filter((o, i) => o.messages[0] === `n${i}`).length)] };
  }, (o) => assert.deepEqual(o.messages, ['300']));
});

test('a server that resets its stream mid-stream: the client sees an error after the first message', { timeout: 60_000 }, async () => {
  await conform('reset', async (c) => {
    const o = await serverStream(c, 'Reset', Buffer.from('x'));
    // The wording differs between a direct reset and one relayed by a proxy only in details; the code and data must match.
    return { ...o, details: '' };
  }, (o) => {
    assert.notEqual(o.code, grpc.status.OK);
    assert.deepEqual(o.messages, ['partial']);
  });
});
