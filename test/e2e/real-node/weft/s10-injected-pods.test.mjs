// Scenario 10: what the injector writes into a pod is what a real kubelet,
// containerd and runc run.
// (a) A pod carrying every `config.weft.io/*` override the injector knows
//     (the list comes from the injector's own OVERRIDES table, so a new
//     override is covered or this fails) is accepted by the runtime: every
//     container created and running without restarts, Ready; the values are
//     live where the kernel enforces them (the proxy's cgroup memory limit and
//     CPU quota, the keepalive on a connection its inbound accepted), in the
//     containers (weft-init's skipped ports, the proxy's
//     log level, image) and in the mesh (the per-pod default inbound policy
//     refuses an unmeshed caller); once ready, the proxy in its container has
//     given back its executable's start-up pages (its log says so, and its
//     node binary's resident read-only pages, read from the host, are fewer).
// (b) A meshed Job: weft-init is a real init container whose OCI spec holds
//     only CAP_NET_ADMIN and CAP_NET_RAW; the proxy is a native sidecar
//     (restartPolicy Always) started before the app; the app's first request
//     goes through the mesh with its identity; the Job completes and its pod
//     Succeeds (the sidecar does not keep it alive).
// (c) A server-speaks-first protocol declared opaque on its Service and pod:
//     a meshed client that says nothing until greeted gets the greeting
//     through both proxies, its own proxy told only by destination's profile
//     of the Service's cluster IP (its detection timeout is 10 minutes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { notRunning, waitFor } from '../../lib/env.mjs';
import { echoPod } from '../../lib/pods.mjs';
import { containerCgroupDir, containerInfo, containerLog, containerPid, podReady, readCgroup, runScriptJob } from '../../lib/node-pods.mjs';
import { cleanUp, meshedWeft, realNodeEnv, webService } from '../../lib/scenario-setup.mjs';
import { WEFT_NS } from '../../lib/weft-install.mjs';

const NS = 'weft-e2e-s10';
const repoRoot = new URL('../../../../', import.meta.url).pathname;
let env;
let installed = [];

before(async () => {
  if (notRunning) return;
  env = realNodeEnv();
  installed = await meshedWeft(env, NS, 'job');
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'web'));
  await webService(env, NS);
  await podReady(env, NS, 'web');
});

after(async () => {
  if (env) await cleanUp(env, [NS], installed);
});

test('a pod with every config.weft.io override is accepted by the kubelet and runs with those values', { skip: notRunning }, async () => {
  const { OVERRIDES, IMAGE_OVERRIDE } = await import(`${repoRoot}injector/dist/overrides.js`);
  const { registry, tag, images } = env.state.realNode.weftImages;
  const values = {
    [IMAGE_OVERRIDE]: `${registry}/proxy`,
    'proxy-version': tag,
    'proxy-log-level': 'debug',
    'proxy-log-format': 'plain',
    'proxy-cpu-request': '20m',
    'proxy-cpu-limit': '500m',
    'proxy-memory-request': '48Mi',
    'proxy-memory-limit': '192Mi',
    'skip-inbound-ports': '9000',
    'skip-outbound-ports': '9001',
    // Documentation ranges (RFC 5737): nothing here talks to them; the host's calls below still meet the proxy.
    'skip-inbound-subnets': '203.0.113.0/24',
    'skip-outbound-subnets': '198.51.100.0/24',
    'opaque-ports': '9002',
    'default-inbound-policy': 'all-authenticated',
    'proxy-await': 'enabled',
    'proxy-await-timeout': '120s',
    'proxy-detect-timeout': '5s',
    // The other layout: the proxy as the first regular container with a postStart wait (native sidecars are part (b)).
    'proxy-native-sidecar': 'disabled',
    // Nothing listens there and nothing is sampled: the proxy runs with tracing on and exports nothing.
    'trace-collector': '127.0.0.1:4318',
    'trace-sampling': '0',
    // The proxy's connections (docs/contracts.md): a proxy that refused any of them would not start.
    'proxy-connect-timeout': '2s',
    'proxy-tls-handshake-timeout': '5s',
    'proxy-keepalive': '45s',
    'proxy-user-timeout': '30s',
    'proxy-peer-ping-interval': '15s',
    // Two threads serving requests (docs/proxy.md, "More than one core"): each listens on the proxy's ports.
    'proxy-workers': '2',
  };
  assert.deepEqual(Object.keys(OVERRIDES).filter((k) => !(k in values)), [], 'every override the injector knows is set here');
  const pod = echoPod(env.echoImage, 'overrides');
  pod.metadata.annotations = Object.fromEntries(Object.entries(values).map(([k, v]) => [`config.weft.io/${k}`, v]));
  const { warnings } = await env.kube.createWarned(`/api/v1/namespaces/${NS}/pods`, pod);
  // The API server hands the injector's warnings to the client: the image override is refused (this install does not
  // allow them), and two threads under a 500m CPU limit are admitted as asked, with a warning.
  assert.deepEqual(warnings.filter((w) => w.startsWith('weft: ')), [
    `weft: pod annotation config.weft.io/proxy-image="${registry}/proxy" is refused: the injector does not allow image overrides (WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE, chart value proxyInjector.allowProxyImageOverride); using ${registry}/proxy`,
    'weft: proxy workers 2 are more than the 1 core(s) of its CPU limit 500m: threads that share a core serve no more and cost CPU and ~19 MiB each (docs/proxy.md, "More than one core")',
  ]);
  const ready = await podReady(env, NS, 'overrides');

  const all = [...(ready.status.initContainerStatuses ?? []), ...ready.status.containerStatuses];
  for (const c of all) {
    if (c.name === 'weft-init') assert.equal(c.state.terminated?.exitCode, 0, `weft-init completed: ${JSON.stringify(c.state)}`);
    else {
      assert.ok(c.state.running, `${c.name} running: ${JSON.stringify(c.state)}`);
      assert.equal(c.restartCount, 0, `${c.name} never restarted`);
    }
  }
  const spec = Object.fromEntries([...(ready.spec.initContainers ?? []), ...ready.spec.containers].map((c) => [c.name, c]));
  assert.equal(ready.spec.containers[0].name, 'weft-proxy', 'proxy-native-sidecar=disabled: the proxy is the first regular container');
  assert.ok(spec['weft-proxy'].lifecycle?.postStart, 'with the postStart wait (proxy-await)');
  assert.deepEqual(spec['weft-proxy'].resources, { requests: { cpu: '20m', memory: '48Mi' }, limits: { cpu: '500m', memory: '192Mi' } });
  assert.equal(spec['weft-proxy'].image, `${registry}/proxy:${tag}`);
  const proxyStatus = all.find((c) => c.name === 'weft-proxy');
  assert.ok(proxyStatus.imageID.endsWith(`@${images.proxy.digest}`), `the proxy runs the pushed image: ${proxyStatus.imageID}`);
  const initArgs = spec['weft-init'].args.join(' ');
  assert.match(initArgs, /--inbound-ports-to-ignore \S*9000/);
  assert.match(initArgs, /--outbound-ports-to-ignore \S*9001/);
  assert.match(initArgs, /--inbound-subnets-to-ignore 203\.0\.113\.0\/24/);
  assert.match(initArgs, /--outbound-subnets-to-ignore 198\.51\.100\.0\/24/);
  assert.ok(spec['weft-proxy'].env.some((e) => /LOG_LEVEL$/.test(e.name) && e.value === 'debug'), 'the proxy runs at debug');
  const proxyEnv = Object.fromEntries(spec['weft-proxy'].env.map((e) => [e.name, e.value]));
  assert.deepEqual(
    ['CONNECT_TIMEOUT', 'TLS_HANDSHAKE_TIMEOUT', 'KEEPALIVE', 'USER_TIMEOUT', 'PEER_PING_INTERVAL'].map((v) => proxyEnv[`WEFT_PROXY_${v}`]),
    ['2s', '5s', '45s', '30s', '15s'],
  );
  // proxy-log-format=plain: the proxy's own log lines (the kubelet's CRI log) read `<time> <LEVEL> proxy: <message>`.
  assert.match(containerLog(env, NS, 'overrides', 'weft-proxy'), /^\d{4}-\d\d-\d\dT\S+ (INFO|DEBUG) [\w.-]+: /m, 'plain log lines');

  const pid = containerPid(env, proxyStatus.containerID);
  // In its container, once ready, the proxy gives back its executable's start-up pages (docs/proxy.md, fourteenth
  // pass): logged with how much was resident, and its node binary's read-only mappings hold less than that after.
  let released;
  await waitFor('the proxy logs the release of its start-up pages', () => {
    released = /start-up pages of the executable released.*residentMiB[=:"\s]+([\d.]+)/.exec(containerLog(env, NS, 'overrides', 'weft-proxy'));
    return released;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  const { releasableResidentKb } = await import(`${repoRoot}proxy/dist/testing/smaps.js`);
  const exeRss = Math.round(releasableResidentKb(pid) / 102.4) / 10;
  assert.ok(exeRss < Number(released[1]), `resident read-only pages of the proxy's node binary: ${released[1]} MiB at the release, ${exeRss} MiB now`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)[1]);

  // The kernel enforces the resource overrides: the proxy container's own cgroups.
  const mem = containerCgroupDir(pid, 'memory');
  assert.equal(Number(readCgroup(mem, 'memory.limit_in_bytes')), 192 * 1024 * 1024, `${mem}/memory.limit_in_bytes`);
  const cpu = containerCgroupDir(pid, 'cpu');
  assert.equal(Number(readCgroup(cpu, 'cpu.cfs_quota_us')) / Number(readCgroup(cpu, 'cpu.cfs_period_us')), 0.5, `${cpu}: 500m`);
  // The per-pod default inbound policy is live: an unmeshed caller (the host) is refused by the pod's proxy.
  let code;
  await waitFor('an unmeshed call refused under the pod\'s all-authenticated default', () => {
    code = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${ready.status.podIP}:8080/`], { encoding: 'utf8' }).stdout;
    return code === '403';
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch((err) => {
    err.message += ` (last status ${code})`;
    throw err;
  });
  // proxy-workers=2: both threads listen (the worker logs it too), and every fresh connection from the host — spread
  // by the kernel over the two threads' sockets, its original destination read in either — is refused alike.
  const proxyLog = containerLog(env, NS, 'overrides', 'weft-proxy');
  assert.equal(proxyEnv.WEFT_PROXY_WORKERS, '2');
  assert.match(proxyLog, /proxy listening .*threads=2/, 'the main thread listens for two');
  assert.match(proxyLog, /proxy listening .*worker=1/, 'the worker thread listens');
  const codes = Array.from({ length: 16 }, () => spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${ready.status.podIP}:8080/`], { encoding: 'utf8' }).stdout);
  assert.deepEqual([...new Set(codes)], ['403'], `16 fresh unmeshed connections: ${codes.join(' ')}`);
  const scraped = spawnSync('curl', ['-s', '--max-time', '10', `http://${ready.status.podIP}:4191/metrics`], { encoding: 'utf8' }).stdout;
  const denied = scraped.split('\n').filter((l) => l.startsWith('inbound_http_authz_deny_total{')).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  assert.ok(denied >= 17, `the proxy's /metrics counts every thread's denials: ${denied}`);
  assert.equal(scraped.match(/^process_start_time_seconds/gm)?.length, 1, 'the process families once');
  // proxy-keepalive is live in the kernel: a connection from the host, accepted by the proxy's inbound, counts down
  // its keepalive from 45 s, not the default 10 (read with ss in the pod's network namespace before protocol
  // detection gives up on the silent connection, 5 s here).
  const idle = net.connect(8080, ready.status.podIP);
  idle.on('error', () => undefined);
  await once(idle, 'connect');
  let keepalive;
  try {
    await waitFor('the kernel\'s keepalive timer on the proxy\'s side of an idle inbound connection', () => {
      const out = spawnSync('nsenter', ['-t', String(pid), '-n', 'ss', '-tnoH', 'state', 'established', `( dport = :${idle.localPort} )`], { encoding: 'utf8' }).stdout;
      keepalive = /timer:\(keepalive,(\d+)sec/.exec(out);
      return keepalive;
    }, { timeoutMs: 4_000, intervalMs: 200 });
  } finally {
    idle.destroy();
  }
  const left = Number(keepalive[1]);
  assert.ok(left > 10 && left <= 45, `the keepalive timer shows ${left} s left of proxy-keepalive=45s`);
  console.log(`# overrides pod Ready with ${Object.keys(values).length} overrides (${Object.keys(values).join(', ')}); proxy cgroup limit 192Mi, quota 500m; unmeshed caller 403 (${denied} denials on two threads); keepalive timer ${left} s of 45`);
  console.log(`# proxy released ${released[1]} MiB of start-up pages (${exeRss} MiB of its binary resident after); RSS ${(kb('VmRSS') / 1024).toFixed(1)} MiB (anonymous ${(kb('RssAnon') / 1024).toFixed(1)})`);
});

test('a meshed Job: weft-init with only NET_ADMIN/NET_RAW, the proxy a native sidecar started first, the Job completes', { skip: notRunning }, async () => {
  const script = [
    "const r = await fetch('http://web/job');",
    'const b = await r.json();',
    "console.log('job: ' + JSON.stringify({ status: r.status, pod: b.pod, clientId: b.clientId }));",
    'process.exit(r.status === 200 && b.clientId ? 0 : 1);',
  ].join(' ');
  // One try: if the app's first request did not go through the proxy, the Job fails.
  let pod = await runScriptJob(env, NS, { name: 'once', container: 'job', serviceAccountName: 'job', script, module: true });
  // The sidecar did not keep the pod alive: the kubelet stops it once the app exits, and the pod Succeeds.
  pod = await waitFor('the Job pod Succeeded', async () => {
    const p = await env.kube.get(`/api/v1/namespaces/${NS}/pods/${pod.metadata.name}`);
    return p.status.phase === 'Succeeded' ? p : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 });

  const inits = pod.spec.initContainers.map((c) => c.name);
  assert.deepEqual(inits, ['weft-init', 'weft-proxy'], 'weft-init, then the proxy, as init containers');
  assert.equal(pod.spec.initContainers[1].restartPolicy, 'Always', 'the proxy is a native sidecar');
  const st = Object.fromEntries([...pod.status.initContainerStatuses, ...pod.status.containerStatuses].map((c) => [c.name, c]));
  assert.equal(st['weft-init'].state.terminated?.exitCode, 0, `weft-init: ${JSON.stringify(st['weft-init'].state)}`);
  assert.equal(st.job.state.terminated?.exitCode, 0, `the app: ${JSON.stringify(st.job.state)}`);
  assert.ok(st['weft-proxy'].state.terminated, `the sidecar was stopped: ${JSON.stringify(st['weft-proxy'].state)}`);
  // Order, as the kubelet recorded it: weft-init finished before the proxy started, the proxy started no later than the app.
  const t = (s) => Date.parse(s);
  assert.ok(t(st['weft-init'].state.terminated.finishedAt) <= t(st['weft-proxy'].state.terminated.startedAt), 'weft-init finished before the proxy started');
  assert.ok(t(st['weft-proxy'].state.terminated.startedAt) <= t(st.job.state.terminated.startedAt), 'the proxy started before the app');

  // What runc was told: weft-init as root with exactly NET_ADMIN and NET_RAW, no privilege escalation.
  const initSpec = containerInfo(env, st['weft-init'].containerID).Spec.process;
  assert.equal(initSpec.user.uid, 0);
  for (const set of ['bounding', 'effective', 'permitted']) assert.deepEqual([...initSpec.capabilities[set]].sort(), ['CAP_NET_ADMIN', 'CAP_NET_RAW'], `weft-init ${set} capabilities`);
  assert.equal(initSpec.noNewPrivileges, true);
  const proxySpec = containerInfo(env, st['weft-proxy'].containerID).Spec.process;
  assert.equal(proxySpec.user.uid, 2102, 'the proxy runs as 2102');
  assert.deepEqual(proxySpec.capabilities.bounding ?? [], [], 'the proxy holds no capability');

  // The app's first and only request went through the mesh with its identity.
  const log = containerLog(env, NS, pod.metadata.name, 'job');
  const line = log.split('\n').find((l) => l.startsWith('job: '));
  assert.ok(line, `the app logged its request: ${log}`);
  const res = JSON.parse(line.slice(5));
  assert.equal(res.status, 200);
  assert.equal(res.clientId, `job.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`);
  console.log(`# Job once Complete, pod Succeeded; weft-init caps ${initSpec.capabilities.bounding.join(',')}; proxy (native sidecar) exit ${st['weft-proxy'].state.terminated.exitCode}; app request ${res.status} as ${res.clientId}`);
});

test('a server-speaks-first protocol declared opaque on its Service and pod: a meshed client gets the greeting without waiting out detection', { skip: notRunning }, async () => {
  // The greeter speaks first (as SMTP or MySQL do); its client says nothing until greeted. Its pod's annotation makes
  // the greeter's proxy skip detection (the injector's WEFT_PROXY_OPAQUE_PORTS); the Service's makes destination's
  // profile of the Service's cluster IP say opaque, which is all the client's proxy learns. The client's proxy
  // detects for 10 minutes (its annotation): a greeting that came only after detection would fail the test.
  const greeter = "require('node:net').createServer((s) => { s.on('error', () => {}); s.write('220 greeter ready\\r\\n'); s.on('data', (d) => { if (String(d).startsWith('QUIT')) s.end('221 bye\\r\\n'); }); }).listen(2525);";
  const opaque = { 'config.weft.io/opaque-ports': '2525' };
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'greeter', labels: { app: 'greeter' }, annotations: opaque },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'greeter', image: env.echoImage, command: ['node', '-e', greeter], ports: [{ name: 'smtp', containerPort: 2525 }] }],
    },
  });
  await env.kube.create(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'greeter', annotations: opaque },
    spec: { selector: { app: 'greeter' }, ports: [{ name: 'smtp', port: 2525, targetPort: 2525 }] },
  });
  await podReady(env, NS, 'greeter');
  const script = [
    "const s = require('node:net').connect(2525, 'greeter');",
    "let got = '';",
    "s.on('data', (d) => { got += d; if (got.includes('220 ') && !got.includes('QUIT')) { got += 'QUIT'; s.write('QUIT\\r\\n'); } });",
    "s.on('close', () => { console.log('greet: ' + JSON.stringify(got.replace('QUIT', ''))); process.exit(got.includes('221 bye') ? 0 : 1); });",
    "s.on('error', (e) => { console.log('greet: error ' + e.message); process.exit(1); });",
  ].join(' ');
  const pod = await runScriptJob(env, NS, { name: 'greet', serviceAccountName: 'job', script, annotations: { 'config.weft.io/proxy-detect-timeout': '10m' } });
  const line = containerLog(env, NS, pod.metadata.name, 'greet').split('\n').find((l) => l.startsWith('greet: '));
  assert.equal(line, 'greet: "220 greeter ready\\r\\n221 bye\\r\\n"');
  const proxyEnv = Object.fromEntries(pod.spec.initContainers.find((c) => c.name === 'weft-proxy').env.map((e) => [e.name, e.value]));
  assert.equal(proxyEnv.WEFT_PROXY_DETECT_TIMEOUT, '10m', 'the client\'s proxy would have detected for 10 minutes');
  assert.ok(!proxyEnv.WEFT_PROXY_OPAQUE_PORTS.split(',').includes('2525'), 'nor does its own list name the port');
  console.log(`# greeting Job Complete through the mesh: ${line}`);
});
