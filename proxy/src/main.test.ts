// The proxy process itself: a bug that escapes every handler ends the
// process with a logged reason and a non-zero code (the kubelet restarts
// it), instead of leaving a half-broken proxy in the request path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const ENV = {
  PATH: process.env.PATH,
  WEFT_PROXY_OUTBOUND_LISTEN_ADDR: '127.0.0.1:0',
  WEFT_PROXY_INBOUND_LISTEN_ADDR: '127.0.0.1:0',
  WEFT_PROXY_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
  WEFT_PROXY_TAP_LISTEN_ADDR: '127.0.0.1:0',
  WEFT_PROXY_IDENTITY_SVC_ADDR: '127.0.0.1:1',
  WEFT_PROXY_IDENTITY_SVC_NAME: 'identity',
  WEFT_PROXY_DESTINATION_SVC_ADDR: '127.0.0.1:1',
  WEFT_PROXY_DESTINATION_SVC_NAME: 'destination',
  WEFT_PROXY_POLICY_SVC_ADDR: '127.0.0.1:1',
  WEFT_PROXY_IDENTITY_LOCAL_NAME: 'web.test.serviceaccount.identity.weft.cluster.local',
  WEFT_PROXY_IDENTITY_TRUST_ANCHORS: 'none',
  WEFT_PROXY_IDENTITY_TOKEN_FILE: '/dev/null',
  WEFT_PROXY_POD_NAMESPACE: 'test',
  WEFT_PROXY_POD_NAME: 'web-0',
};

/** Runs the proxy with `bug` imported first (in every thread), until it exits: its code and output. */
async function runWithBug(bug: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', `data:text/javascript,${bug}`, MAIN], {
    env: { ...ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

test('an uncaught exception is logged and exits the proxy with code 70', { timeout: 60_000 }, async () => {
  // A bug elsewhere in the process, once the proxy is up.
  const { code, out } = await runWithBug(`setTimeout(() => { throw new Error('boom from a bug'); }, 1000);`);
  assert.equal(code, 70, out);
  assert.match(out, /uncaught exception: exiting/);
  assert.match(out, /boom from a bug/);
});

test(
  'with WEFT_PROXY_WORKERS=2, an uncaught exception in the worker thread is logged and exits the whole proxy with code 70',
  { timeout: 60_000 },
  async () => {
    const { code, out } = await runWithBug(
      `import { isMainThread } from 'node:worker_threads'; if (!isMainThread) setTimeout(() => { throw new Error('boom in a worker'); }, 1000);`,
      { WEFT_PROXY_WORKERS: '2' },
    );
    assert.equal(code, 70, out);
    assert.match(out, /proxy worker thread failed: exiting/);
    assert.match(out, /boom in a worker/);
  },
);
