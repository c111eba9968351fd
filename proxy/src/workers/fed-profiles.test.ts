// A worker thread's profiles (FedProfiles): watches come from the main thread
// by message, and an idle watch is released and reopened on its next read the
// way the main thread's DestinationProfiles does, so a layer that keeps its
// watch (the inbound route layer keeps one per authority for the life of the
// proxy) sees profile changes after an idle period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { FedProfiles } from './worker.js';
import type { FromWorker } from './messages.js';

const AUTHORITY = 'web.demo.svc.cluster.local:80';

function profile(route: string) {
  return create(destination.DestinationProfileSchema, { fullyQualifiedName: 'web.demo.svc.cluster.local', routes: [{ name: route }] });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** The main thread's side: which authorities it watches for the worker, from the worker's messages. */
function mainThread() {
  const sent: FromWorker[] = [];
  const watched = new Set<string>();
  return {
    sent,
    watched,
    post: (m: FromWorker) => {
      sent.push(m);
      if (m.t === 'watchProfile') watched.add(m.authority);
      if (m.t === 'unwatchProfile') watched.delete(m.authority);
    },
  };
}

test('an idle watch in a worker is released, keeps its profile, and the next read watches again and sees later changes', async () => {
  const main = mainThread();
  const profiles = new FedProfiles(main.post, 50);
  try {
    const w = profiles.watch(AUTHORITY);
    assert.deepEqual([...main.watched], [AUTHORITY], 'the first use asks the main thread');
    profiles.update(AUTHORITY, profile('first'));
    assert.equal(w.current()?.routes[0]?.name, 'first');

    await until('the unread watch to be released', () => main.watched.size === 0);
    profiles.update(AUTHORITY, profile('while-released'));
    assert.equal(w.current()?.routes[0]?.name, 'first', 'the last profile is kept; an update for a released watch is not one of its');
    assert.deepEqual([...main.watched], [AUTHORITY], 'the read watched the authority again');
    profiles.update(AUTHORITY, profile('after'));
    assert.equal(w.current()?.routes[0]?.name, 'after', 'the watch a layer kept sees the change');
    assert.equal(main.sent.filter((m) => m.t === 'watchProfile').length, 2);
  } finally {
    profiles.close();
  }
  assert.equal(main.watched.size, 0, 'close() releases every watch');
});

test('a subscribed watch in a worker is never released', async () => {
  const main = mainThread();
  const profiles = new FedProfiles(main.post, 20);
  try {
    const seen: string[] = [];
    profiles.watch(AUTHORITY).subscribe((p) => seen.push(p.routes[0]!.name));
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual([...main.watched], [AUTHORITY]);
    profiles.update(AUTHORITY, profile('live'));
    assert.deepEqual(seen, ['live']);
  } finally {
    profiles.close();
  }
});
