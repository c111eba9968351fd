// A worker thread's copies of the main thread's discovery and profiles, which
// arrive by message. Profiles (FedProfiles): an idle watch is released and
// reopened on its next read the way the main thread's DestinationProfiles
// does, so a layer that keeps its watch (the inbound route layer keeps one per
// authority for the life of the proxy) sees profile changes after an idle
// period. Discovery (FedDiscovery): an unknown authority stays unknown for a
// while, as in DestinationDiscovery, so a client hammering a wrong name does
// not cost a message to the main thread per request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { UnavailableError } from '@weft/common/errors';
import { UnknownAuthorityError } from '../errors.js';
import { FedDiscovery, FedProfiles } from './worker.js';
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

test('an unknown authority stays unknown in a worker for a while, then is asked for again; an unreachable one at once', async () => {
  const main = mainThread();
  const discovery = new FedDiscovery(main.post, 100);
  const asked = (authority: string) => main.sent.filter((m) => m.t === 'resolve' && m.authority === authority).length;
  try {
    const first = discovery.resolve('nope.demo.svc.cluster.local:80');
    discovery.fail('nope.demo.svc.cluster.local:80', new UnknownAuthorityError('nope.demo.svc.cluster.local:80'));
    await assert.rejects(first, UnknownAuthorityError);
    for (let i = 0; i < 20; i++) await assert.rejects(discovery.resolve('nope.demo.svc.cluster.local:80'), UnknownAuthorityError);
    assert.equal(asked('nope.demo.svc.cluster.local:80'), 1, 'requests within the time fail without asking the main thread');
    await until('the unknown authority to be forgotten', () => {
      void discovery.resolve('nope.demo.svc.cluster.local:80').catch(() => {});
      return asked('nope.demo.svc.cluster.local:80') === 2;
    });

    const down = discovery.resolve('web.demo.svc.cluster.local:80');
    discovery.fail('web.demo.svc.cluster.local:80', new UnavailableError('destination unreachable'));
    await assert.rejects(down, UnavailableError);
    const again = discovery.resolve('web.demo.svc.cluster.local:80');
    assert.equal(asked('web.demo.svc.cluster.local:80'), 2, 'an unreachable authority is asked for again by the next request');
    discovery.update('web.demo.svc.cluster.local:80', []);
    assert.deepEqual((await again).endpoints, []);
  } finally {
    discovery.close();
  }
});
