// viz's start-up when one of its ports cannot be had: it fails with that error and keeps none of the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startViz } from './viz.js';
import { StaticTargetSource } from './targets.js';

/** A listener on a port the kernel chose; closed by the caller. */
async function holdPort(): Promise<net.Server> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;
const close = (s: net.Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

test('a port viz cannot listen on fails its start with that error, and the ports it did get are released', async (t) => {
  const taken = await holdPort();
  t.after(() => close(taken));
  // Two ports known to be free now (held, then let go just before viz takes them).
  const tapHold = await holdPort();
  const webHold = await holdPort();
  const [tapPort, webPort] = [portOf(tapHold), portOf(webHold)];
  await Promise.all([close(tapHold), close(webHold)]);

  await assert.rejects(
    startViz({
      prometheusUrl: 'http://127.0.0.1:9',
      targets: new StaticTargetSource([]),
      tapTls: { ca: '', cert: '', key: '' },
      api: { host: '127.0.0.1', port: portOf(taken) },
      tap: { host: '127.0.0.1', port: tapPort },
      web: { host: '127.0.0.1', port: webPort },
    }),
    /EADDRINUSE/,
  );
  // Nothing of viz is left listening: both ports can be taken again.
  for (const port of [tapPort, webPort]) {
    const again = net.createServer().listen(port, '127.0.0.1');
    await once(again, 'listening');
    await close(again);
  }
});
