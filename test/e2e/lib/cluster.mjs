// The Kubernetes control plane the scenarios run against: etcd,
// kube-apiserver with a secure configuration like controller-runtime's envtest
// (TLS, client-certificate and ServiceAccount-token authentication, Node+RBAC
// authorization, admission webhooks on), kube-controller-manager,
// kube-scheduler, and cert-manager's controller and cainjector out of
// cluster. The node (kubelet, containerd, kube-proxy) is lib/real-node.mjs,
// which extends this class; without it (`run.mjs --control-plane-only`) the
// API server listens on loopback and no pod runs.
/* global fetch */
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ClusterPki } from './pki.mjs';
import { goBin } from './build.mjs';
import { Kube, writeKubeconfig } from './kube.mjs';
import { Supervisor, waitFor } from './procs.mjs';
import * as net from './node-net.mjs';

export const CERT_MANAGER_NAMESPACE = 'cert-manager';
const repoRoot = new URL('../../../', import.meta.url).pathname;

/** A free TCP port on `host` (bound and released; the environment owns the machine's weft-e2e lock). */
export function freePort(host) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class Cluster {
  /**
   * @param {object} o
   * @param {string} o.dir run directory
   * @param {Record<string,string>} o.bins binary paths from ensureBinaries
   * @param {Record<string,string>} o.versions
   * @param {(line: string) => void} o.log
   * @param {boolean} [o.node] a subclass that implements startNode(creds) sets it
   */
  constructor({ dir, bins, versions, log, node = false }) {
    this.dir = dir;
    this.bins = bins;
    this.versions = versions;
    this.log = log;
    this.sup = new Supervisor(dir);
    /** Only a subclass brings a node (startNode); this class is the control plane alone. */
    this.withNode = node;
    this.nodeSkipReason = 'control plane only: no node';
  }

  async up() {
    const pkiDir = join(this.dir, 'pki');
    mkdirSync(pkiDir, { recursive: true });
    const pki = new ClusterPki(pkiDir).init();
    this.pki = pki;
    if (this.withNode) net.createNodeNetwork();
    const apiHost = this.withNode ? net.HOST_IP : '127.0.0.1';
    this.apiHost = apiHost;

    // etcd
    const etcdClient = await freePort('127.0.0.1');
    const etcdPeer = await freePort('127.0.0.1');
    const etcd = this.sup.start('etcd', this.bins.etcd, [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls=',
      // A throwaway store: durability buys nothing here and fsync on a loaded disk slows every write.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    // Recorded in env.json: tests read raw keys through etcd's v3 JSON gateway (how a CRD's objects are stored).
    this.etcdUrl = `http://127.0.0.1:${etcdClient}`;
    await waitFor('etcd /health', async () => {
      this.sup.assertAlive(etcd);
      const r = await fetch(`http://127.0.0.1:${etcdClient}/health`);
      return r.ok && (await r.json()).health === 'true';
    }, { timeoutMs: 60_000 });

    // kube-apiserver
    const apiPort = await freePort(apiHost);
    this.server = `https://${apiHost}:${apiPort}`;
    const serving = pki.issue('apiserver', '/CN=kube-apiserver', {
      usage: 'serverAuth',
      sans: ['DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'DNS:localhost', 'IP:127.0.0.1', `IP:${apiHost}`, 'IP:198.19.0.1'],
    });
    const apiserver = this.sup.start('kube-apiserver', this.bins['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${apiHost}`,
      `--advertise-address=${apiHost}`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      `--service-cluster-ip-range=${net.SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      // The default plugins include MutatingAdmissionWebhook and ValidatingAdmissionWebhook.
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ]);
    const adminCert = pki.issue('admin', '/O=system:masters/CN=weft-e2e-admin');
    const ca = pki.caPem();
    const creds = (c) => ({ server: this.server, ca, cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8') });
    this.adminKubeconfig = writeKubeconfig(join(this.dir, 'admin.kubeconfig'), 'weft-e2e-admin', creds(adminCert));
    this.kube = new Kube(creds(adminCert));
    await waitFor('kube-apiserver /readyz', async () => {
      this.sup.assertAlive(apiserver);
      return (await this.kube.get('/readyz')) === 'ok';
    }, { timeoutMs: 180_000, intervalMs: 500 });
    this.apiserver = apiserver;
    const version = await this.kube.get('/version');
    this.log(`e2e: kube-apiserver ${version.gitVersion} (${version.platform}, ${version.goVersion}) ready at ${this.server}`);

    // kube-controller-manager and kube-scheduler, with their built-in identities.
    const kcmKc = writeKubeconfig(join(this.dir, 'kube-controller-manager.kubeconfig'), 'kcm', creds(pki.issue('kcm', '/CN=system:kube-controller-manager')));
    this.sup.start('kube-controller-manager', this.bins['kube-controller-manager'], [
      `--kubeconfig=${kcmKc}`,
      `--authentication-kubeconfig=${kcmKc}`,
      `--authorization-kubeconfig=${kcmKc}`,
      '--secure-port=0',
      '--leader-elect=false',
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${net.SERVICE_CIDR}`,
      // The CNI plugin's host-local IPAM hands out pod addresses; no node CIDRs, no cloud.
      '--allocate-node-cidrs=false',
      '--controllers=*,-node-ipam-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller',
      '--profiling=false',
      '--v=1',
    ]);
    const schedKc = writeKubeconfig(join(this.dir, 'kube-scheduler.kubeconfig'), 'scheduler', creds(pki.issue('scheduler', '/CN=system:kube-scheduler')));
    this.sup.start('kube-scheduler', this.bins['kube-scheduler'], [
      `--kubeconfig=${schedKc}`,
      `--authentication-kubeconfig=${schedKc}`,
      `--authorization-kubeconfig=${schedKc}`,
      '--secure-port=0',
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ]);

    if (this.withNode) await this.startNode(creds);
    else this.log(`e2e: no node: ${this.nodeSkipReason}`);

    await this.startCertManager();
    this.writeState();
    return this;
  }

  /** kube-proxy in iptables mode inside the node namespace, for node `nodeName`; resolves once it has written rules. */
  async startKubeProxy(creds, nodeName) {
    const pki = this.pki;
    const proxyCreds = creds(pki.issue('kube-proxy', '/CN=system:kube-proxy'));
    const proxyKc = writeKubeconfig(join(this.dir, 'kube-proxy.kubeconfig'), 'kube-proxy', proxyCreds);
    const proxy = this.sup.start('kube-proxy', 'ip', ['netns', 'exec', net.NODE_NS, this.bins['kube-proxy'],
      `--kubeconfig=${proxyKc}`,
      '--proxy-mode=iptables',
      `--hostname-override=${nodeName}`,
      `--cluster-cidr=${net.POD_CIDR}`,
      '--bind-address=0.0.0.0',
      '--healthz-bind-address=127.0.0.1:10256',
      '--metrics-bind-address=127.0.0.1:10249',
      // Leave the conntrack sysctls alone: they are not per-namespace.
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--v=1',
    ]);
    // kube-proxy is ready once it has written the kubernetes service's rules.
    await waitFor('kube-proxy iptables rules', () => {
      this.sup.assertAlive(proxy);
      const out = execFileSync('ip', ['netns', 'exec', net.NODE_NS, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
      return out.includes('default/kubernetes:https');
    }, { timeoutMs: 90_000, intervalMs: 500 });
    this.log(`e2e: node ${nodeName} Ready, kube-proxy (iptables) routing ${net.SERVICE_CIDR}`);
  }

  async startCertManager() {
    const crdDir = certManagerCrdDir(this.versions['cert-manager']);
    await this.kube.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CERT_MANAGER_NAMESPACE } });
    for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort()) {
      const yaml = stripHelmTemplating(readFileSync(join(crdDir, file), 'utf8'));
      const path = join(this.dir, `cert-manager-${file}`);
      writeFileSync(path, yaml);
      this.kubectl(['apply', '--server-side', '--field-manager=weft-e2e', '-f', path]);
    }
    for (const crd of ['certificates', 'certificaterequests', 'issuers', 'clusterissuers', 'orders', 'challenges']) {
      await waitFor(`CRD ${crd}.cert-manager.io Established`, async () => {
        const c = await this.kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}.${['orders', 'challenges'].includes(crd) ? 'acme.' : ''}cert-manager.io`);
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
      }, { timeoutMs: 60_000 });
    }
    const cm = this.sup.start('cert-manager-controller', this.bins['cert-manager-controller'], [
      `--kubeconfig=${this.adminKubeconfig}`,
      '--leader-elect=false',
      `--cluster-resource-namespace=${CERT_MANAGER_NAMESPACE}`,
      // Only the issuers weft uses: no ACME solver pods to schedule.
      '--controllers=*,-challenges,-orders,-ingress-shim',
      '--metrics-listen-address=127.0.0.1:0',
      '--v=2',
    ]);
    this.certManager = cm;
    // Ready when it reconciles: a self-signed Issuer turns Ready only once the issuers controller runs.
    const probe = `/apis/cert-manager.io/v1/namespaces/${CERT_MANAGER_NAMESPACE}/issuers`;
    await this.kube.ensure(probe, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'weft-e2e-readiness' }, spec: { selfSigned: {} } });
    await waitFor('cert-manager controller reconciling (readiness Issuer Ready)', async () => {
      this.sup.assertAlive(cm);
      const issuer = await this.kube.get(`${probe}/weft-e2e-readiness`);
      return issuer.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 180_000, intervalMs: 500 });
    await this.kube.delete(`${probe}/weft-e2e-readiness`);
    // cainjector fills caBundle of webhook configurations annotated cert-manager.io/inject-ca-from.
    this.cainjector = this.sup.start('cert-manager-cainjector', this.bins['cert-manager-cainjector'], ['--leader-elect=false', '--v=1'], {
      env: { ...process.env, KUBECONFIG: this.adminKubeconfig },
    });
    this.log(`e2e: cert-manager ${this.versions['cert-manager']} controller and cainjector running out of cluster (cluster resource namespace ${CERT_MANAGER_NAMESPACE})`);
  }

  kubectl(args) {
    return execFileSync(join(repoRoot, '.bin', 'kubectl'), [`--kubeconfig=${this.adminKubeconfig}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  writeState() {
    this.statePath = join(this.dir, 'env.json');
    writeFileSync(this.statePath, JSON.stringify({
      kubeconfig: this.adminKubeconfig,
      server: this.server,
      etcdUrl: this.etcdUrl,
      caFile: this.pki.caCert,
      versions: this.versions,
      node: null, // a node's subclass names it
      nodeSkipReason: this.withNode ? null : this.nodeSkipReason,
      serviceCidr: net.SERVICE_CIDR,
      podCidr: net.POD_CIDR,
      hostIp: this.apiHost,
      certManagerNamespace: CERT_MANAGER_NAMESPACE,
      runDir: this.dir,
      bins: this.bins,
    }, null, 2));
  }

  /** Stops every process group, then removes the node and pod namespaces (with kube-proxy's rules). */
  async down() {
    this.kube?.close();
    await this.sup.stopAll(5000, ['etcd']);
    if (this.withNode) net.sweepNetwork();
  }
}

/** The CRDs shipped inside the cert-manager module source (deploy/crds). */
export function certManagerCrdDir(version) {
  const modDir = execFileSync(goBin, ['list', '-m', '-f', '{{.Dir}}', 'github.com/cert-manager/cert-manager'], {
    cwd: new URL('../tools/cert-manager/', import.meta.url).pathname,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  }).trim();
  if (!modDir.includes(version)) throw new Error(`cert-manager module dir ${modDir} is not ${version}`);
  return join(modDir, 'deploy', 'crds');
}

/**
 * The module's CRDs are Helm templates in their labels only; render those the
 * way cert-manager's chart does for a release named cert-manager.
 */
export function stripHelmTemplating(yaml) {
  return yaml
    .split('\n')
    .filter((l) => !/^\s*# Generated labels/.test(l))
    .map((l) => l.replace(/'\{\{ template "cert-manager.name" \. \}\}'/g, 'cert-manager').replace(/'\{\{ \.Release\.Name \}\}'/g, 'cert-manager'))
    .join('\n');
}
