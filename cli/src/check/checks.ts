/**
 * `weft check`: ordered categories of checks over the cluster reads. A check
 * passes, warns (exit code stays 0) or fails (exit code 1); every warning and
 * failure names the fix. A failing category can stop the checks that depend
 * on it (no API server, no point in reading certificates).
 */
import { X509Certificate } from 'node:crypto';
import { parseCertificateBundle, timeToExpiry, verifyChain } from '@weft/common/x509';
import type { ClusterReads, CrdVersions, MeshedPod } from './cluster-reads.js';
import {
  CONTROL_PLANE_DEPLOYMENTS, CRD_VERSION, WEFT_CRDS, DESTINATION_SECRET, EXPIRY_WARNING_DAYS, ISSUER_SECRET, MIN_KUBERNETES, NATIVE_SIDECAR_KUBERNETES,
  TRUST_ROOTS_CONFIGMAP, TRUST_ROOTS_KEY, VIZ_TAP_SECRET, WEBHOOK_CONFIG, WEBHOOK_SECRET,
} from './names.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly category: string;
  readonly description: string;
  readonly status: CheckStatus;
  /** What is wrong (warn/fail). */
  readonly message?: string;
  /** How to fix it (warn/fail). */
  readonly fix?: string;
}

export interface CheckOptions {
  readonly controlNamespace: string;
  /** Pre-install checks instead of the control-plane ones. */
  readonly pre: boolean;
  /** Also check the data plane (meshed pods' proxies). */
  readonly proxy: boolean;
  readonly clientVersion: string;
  readonly now: Date;
  /** Namespace of weft-viz: its tap certificate is checked when the namespace exists. */
  readonly vizNamespace?: string;
}

class Problem extends Error {
  constructor(
    readonly status: 'warn' | 'fail',
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

const fail = (message: string, fix: string) => new Problem('fail', message, fix);
const warn = (message: string, fix: string) => new Problem('warn', message, fix);

const DAY = 86_400_000;

function subject(c: X509Certificate): string {
  return c.subject.replace(/\n/g, ', ');
}

/** Runs the checks in order; `stop` ends the run after a failed check others depend on. */
class Run {
  readonly results: CheckResult[] = [];
  private stopped = false;

  async check(category: string, description: string, fn: () => Promise<void> | void, opts: { stopOnFail?: boolean } = {}): Promise<boolean> {
    if (this.stopped) return false;
    try {
      await fn();
      this.results.push({ category, description, status: 'ok' });
      return true;
    } catch (err) {
      const p = err instanceof Problem ? err : fail((err as Error).message, 'see the message above');
      this.results.push({ category, description, status: p.status, message: p.message, fix: p.fix });
      if (p.status === 'fail' && opts.stopOnFail) this.stopped = true;
      return p.status !== 'fail';
    }
  }
}

function expiryProblem(what: string, cert: X509Certificate, now: Date, fix: string): void {
  const left = timeToExpiry(cert, now);
  if (left < 0) throw fail(`${what} "${subject(cert)}" expired at ${new Date(cert.validTo).toISOString()}`, fix);
  if (now < new Date(cert.validFrom)) throw fail(`${what} "${subject(cert)}" is not valid before ${new Date(cert.validFrom).toISOString()}`, fix);
  if (left < EXPIRY_WARNING_DAYS * DAY) {
    throw warn(`${what} "${subject(cert)}" expires in ${Math.floor(left / DAY)} days (${new Date(cert.validTo).toISOString()}), within ${EXPIRY_WARNING_DAYS} days`, fix);
  }
}

export async function runChecks(reads: ClusterReads, o: CheckOptions): Promise<CheckResult[]> {
  const run = new Run();
  const ns = o.controlNamespace;

  let version = { major: 0, minor: 0, gitVersion: '' };
  await run.check('kubernetes-api', 'can query the Kubernetes API', async () => {
    try {
      version = await reads.serverVersion();
    } catch (err) {
      throw fail(`cannot reach the Kubernetes API: ${(err as Error).message}`, 'check --kubeconfig/--context (or KUBECONFIG) and that the API server is reachable: kubectl version');
    }
  }, { stopOnFail: true });

  await run.check('kubernetes-version', `is running Kubernetes >= ${MIN_KUBERNETES.major}.${MIN_KUBERNETES.minor}`, () => {
    if (version.major < MIN_KUBERNETES.major || (version.major === MIN_KUBERNETES.major && version.minor < MIN_KUBERNETES.minor)) {
      throw fail(`the API server is ${version.gitVersion}`, `upgrade the cluster to Kubernetes ${MIN_KUBERNETES.major}.${MIN_KUBERNETES.minor} or newer`);
    }
  });
  await run.check('kubernetes-version', 'supports native sidecar containers', () => {
    if (version.major === NATIVE_SIDECAR_KUBERNETES.major && version.minor < NATIVE_SIDECAR_KUBERNETES.minor) {
      throw warn(`${version.gitVersion} has no native sidecars: the proxy runs as the first container and may stop before the app`, 'upgrade to Kubernetes 1.29+ for native sidecars; until then use config.weft.io/proxy-await');
    }
  });

  if (o.pre) {
    await run.check('pre-kubernetes-setup', `control plane namespace "${ns}" does not already exist`, async () => {
      if (await reads.namespaceExists(ns)) throw fail(`namespace "${ns}" already exists`, `weft is installed already: run "weft check" instead, or pick another namespace with --weft-namespace`);
    });
    const needs: Array<[string, string, string]> = [
      ['create', '', 'namespaces'],
      ['create', 'rbac.authorization.k8s.io', 'clusterroles'],
      ['create', 'rbac.authorization.k8s.io', 'clusterrolebindings'],
      ['create', 'apiextensions.k8s.io', 'customresourcedefinitions'],
      ['create', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations'],
    ];
    for (const [verb, group, resource] of needs) {
      await run.check('pre-kubernetes-setup', `can ${verb} ${resource}`, async () => {
        if (!(await reads.canI(verb, group, resource))) throw fail(`the current user may not ${verb} ${resource}${group ? `.${group}` : ''}`, 'install with a cluster-admin context (--context) or ask for these permissions');
      });
    }
    return run.results;
  }

  // ---- weft's CRDs (installed before the control plane): served at this release's version, every object stored at it (docs/crds.md) ----
  const crds: Array<[string, CrdVersions | undefined]> = [];
  const crdsCurrent = await run.check('weft-crds', `weft CRDs are installed and store new objects at ${CRD_VERSION}`, async () => {
    for (const c of WEFT_CRDS) crds.push([`${c.plural}.${c.group}`, await reads.crd(`${c.plural}.${c.group}`)]);
    const missing = crds.filter(([, v]) => !v).map(([name]) => name);
    if (missing.length) throw fail(`CRDs not installed: ${missing.join(', ')}`, 'install the weft-crds chart before the control plane: helm install weft-crds weft-crds (docs/install.md)');
    const older = crds.filter(([, v]) => v!.storageVersion !== CRD_VERSION);
    if (older.length) {
      throw fail(
        `${older.map(([name, v]) => `${name} stores at ${v!.storageVersion ?? 'no version'}`).join(', ')}; this release reads and writes ${CRD_VERSION}`,
        'upgrade the weft-crds chart to this release: helm upgrade weft-crds weft-crds (docs/crds.md)',
      );
    }
  });
  if (crdsCurrent) {
    await run.check('weft-crds', `every weft custom resource is stored at ${CRD_VERSION} (CRD status.storedVersions)`, () => {
      const pending = crds.filter(([, v]) => v!.storedVersions.some((s) => s !== CRD_VERSION));
      if (pending.length) {
        const old = [...new Set(pending.flatMap(([, v]) => v!.storedVersions.filter((s) => s !== CRD_VERSION)))].join(', ');
        throw warn(
          `storedVersions of ${pending.map(([name, v]) => `${name} [${v!.storedVersions.join(', ')}]`).join(', ')}: objects written before the upgrade may still be stored at ${old} in etcd, and a later release cannot drop ${old} until they are rewritten`,
          `weft crds migrate (rewrites them at ${CRD_VERSION} and sets storedVersions to [${CRD_VERSION}]; docs/crds.md)`,
        );
      }
    });
  }

  // ---- control plane ----
  const present = await run.check('weft-existence', `control plane namespace "${ns}" exists`, async () => {
    if (!(await reads.namespaceExists(ns))) throw fail(`namespace "${ns}" does not exist`, 'install weft: weft install | kubectl apply -f - (or helm install weft-control-plane), or pass --weft-namespace');
  }, { stopOnFail: true });
  let controlPlaneVersion: string | undefined;
  if (present) {
    const deployments = await reads.deployments(ns);
    for (const name of CONTROL_PLANE_DEPLOYMENTS) {
      await run.check('weft-existence', `${name} is running and ready`, () => {
        const d = deployments.find((x) => x.name === name);
        if (!d) throw fail(`Deployment ${ns}/${name} does not exist`, `re-install the control plane chart; kubectl -n ${ns} get deploy`);
        controlPlaneVersion ??= d.version;
        if (d.desired === 0) throw fail(`Deployment ${ns}/${name} is scaled to 0`, `kubectl -n ${ns} scale deploy/${name} --replicas=1`);
        if (d.ready < d.desired) throw fail(`Deployment ${ns}/${name} has ${d.ready}/${d.desired} ready replicas`, `kubectl -n ${ns} describe deploy/${name}; kubectl -n ${ns} logs deploy/${name}`);
      });
    }
  }

  // ---- identity: trust anchors and issuer ----
  let anchors: X509Certificate[] = [];
  const rotateAnchor = `rotate the trust anchor: add a new anchor to ConfigMap ${ns}/${TRUST_ROOTS_CONFIGMAP} (${TRUST_ROOTS_KEY}), re-issue the issuer from it, restart the proxies, then remove the old anchor (docs/rotation.md)`;
  const anchorsRead = await run.check('weft-identity', 'trust anchors are present and parse', async () => {
    const cm = await reads.configMap(ns, TRUST_ROOTS_CONFIGMAP);
    if (!cm) throw fail(`ConfigMap ${ns}/${TRUST_ROOTS_CONFIGMAP} does not exist`, `create it with key ${TRUST_ROOTS_KEY} holding the PEM trust anchors (or let trust-manager own it)`);
    const pem = cm[TRUST_ROOTS_KEY];
    if (!pem) throw fail(`ConfigMap ${ns}/${TRUST_ROOTS_CONFIGMAP} has no key ${TRUST_ROOTS_KEY}`, `put the PEM trust anchors under ${TRUST_ROOTS_KEY}`);
    try {
      anchors = parseCertificateBundle(pem, `${TRUST_ROOTS_CONFIGMAP}/${TRUST_ROOTS_KEY}`);
    } catch (err) {
      throw fail((err as Error).message, `replace ${TRUST_ROOTS_KEY} with valid PEM certificates`);
    }
  });
  if (anchorsRead) {
    await run.check('weft-identity', 'trust anchors are valid CA certificates', () => {
      const notCa = anchors.find((a) => !a.ca);
      if (notCa) throw fail(`trust anchor "${subject(notCa)}" is not a CA certificate`, 'trust anchors must have basicConstraints CA:TRUE; re-create the anchor');
      for (const a of anchors) expiryProblem('trust anchor', a, o.now, rotateAnchor);
    });
  }
  let issuer: X509Certificate | undefined;
  let issuerChain: X509Certificate[] = [];
  const renewIssuer = `renew the issuer certificate in Secret ${ns}/${ISSUER_SECRET} (cert-manager renews it before expiry when its Certificate has renewBefore; check "kubectl -n ${ns} describe certificate")`;
  const issuerRead = await run.check('weft-identity', 'issuer certificate is present and parses', async () => {
    const s = await reads.secret(ns, ISSUER_SECRET);
    if (!s) {
      throw fail(
        `Secret ${ns}/${ISSUER_SECRET} does not exist: identity cannot sign proxy certificates`,
        `give the chart the issuer: helm upgrade weft weft-control-plane -n ${ns} --reuse-values --set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key; or let cert-manager make it: --set certManager.create=true (with Secret ${ns}/weft-trust-anchor); or check your own cert-manager Certificate: kubectl -n ${ns} describe certificate ${ISSUER_SECRET}`,
      );
    }
    if (!s['tls.crt']) throw fail(`Secret ${ns}/${ISSUER_SECRET} has no tls.crt`, 'the issuer Secret must be of type kubernetes.io/tls');
    try {
      issuerChain = parseCertificateBundle(s['tls.crt'], `${ISSUER_SECRET}/tls.crt`);
    } catch (err) {
      throw fail((err as Error).message, `replace ${ISSUER_SECRET}/tls.crt with a valid PEM certificate`);
    }
    issuer = issuerChain[0];
  });
  if (issuerRead && issuer) {
    const iss = issuer;
    await run.check('weft-identity', 'issuer certificate is a valid CA', () => {
      if (!iss.ca) throw fail(`issuer "${subject(iss)}" is not a CA certificate`, 'the issuer must have basicConstraints CA:TRUE to sign workload certificates');
      expiryProblem('issuer', iss, o.now, renewIssuer);
    });
    if (anchorsRead) {
      await run.check('weft-identity', 'issuer certificate is signed by a trust anchor', () => {
        try {
          // Validity is reported by its own check; here only the signature path matters.
          verifyChain(iss, issuerChain.slice(1), anchors, new Date(Math.max(new Date(iss.validFrom).getTime(), ...anchors.map((a) => new Date(a.validFrom).getTime())) + 1000));
        } catch (err) {
          throw fail(
            `issuer "${subject(iss)}" is not signed by any anchor in ${TRUST_ROOTS_CONFIGMAP}: ${(err as Error).message}`,
            `re-issue ${ns}/${ISSUER_SECRET} from a current trust anchor (cert-manager: check the Certificate's issuerRef), or add the anchor that signed it to ${TRUST_ROOTS_CONFIGMAP}/${TRUST_ROOTS_KEY}`,
          );
        }
      });
    }
  }

  // ---- destination's serving certificate (proxies verify it against the anchors) ----
  if (present && anchorsRead) {
    await run.check('weft-destination', 'destination serving certificate is present and chains to a trust anchor', async () => {
      const s = await reads.secret(ns, DESTINATION_SECRET);
      const fix = `without cert-manager the chart generates it when it has the issuer: helm upgrade weft weft-control-plane -n ${ns} --reuse-values --set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key; with cert-manager: kubectl -n ${ns} describe certificate weft-destination`;
      if (!s?.['tls.crt']) throw fail(`Secret ${ns}/${DESTINATION_SECRET} is missing or has no tls.crt: destination cannot serve and its pods wait`, fix);
      const chain = parseCertificateBundle(s['tls.crt'], `${DESTINATION_SECRET}/tls.crt`);
      const leaf = chain[0]!;
      const want = `weft-destination.${ns}.serviceaccount.identity.${ns}.`;
      if (!(leaf.subjectAltName ?? '').split(', ').some((n) => n.startsWith(`DNS:${want}`))) {
        throw fail(`destination's certificate "${subject(leaf)}" does not name ${want}<trust domain> (proxies verify that name)`, fix);
      }
      try {
        verifyChain(leaf, chain.slice(1), anchors, o.now);
      } catch (err) {
        throw fail(`proxies would not trust destination's certificate: ${(err as Error).message}`, `${fix}; the issuer that signed it must follow the leaf in tls.crt and chain to ${TRUST_ROOTS_CONFIGMAP}`);
      }
      expiryProblem("destination's certificate", leaf, o.now, fix);
    });
  }

  // ---- proxy injector webhook ----
  await run.check('weft-webhook', 'webhook CA bundle matches the injector certificate', async () => {
    const bundles = await reads.webhookCaBundles(WEBHOOK_CONFIG);
    if (!bundles) throw fail(`MutatingWebhookConfiguration ${WEBHOOK_CONFIG} does not exist`, 're-install the control plane chart');
    const s = await reads.secret(ns, WEBHOOK_SECRET);
    if (!s?.['tls.crt']) throw fail(`Secret ${ns}/${WEBHOOK_SECRET} (the injector's serving certificate) is missing or has no tls.crt`, 'with cert-manager check the weft-injector Certificate; otherwise set proxyInjector.tls in values');
    const chain = parseCertificateBundle(s['tls.crt'], `${WEBHOOK_SECRET}/tls.crt`);
    const fix = `set the webhook's caBundle to the CA that signed ${WEBHOOK_SECRET}/tls.crt: with cert-manager keep the cert-manager.io/inject-ca-from annotation (cainjector running); otherwise set proxyInjector.caBundle and helm upgrade`;
    for (const [i, pem] of bundles.entries()) {
      if (!pem.trim()) throw fail(`webhook #${i + 1} of ${WEBHOOK_CONFIG} has an empty caBundle`, fix);
      const cas = parseCertificateBundle(pem, `${WEBHOOK_CONFIG} caBundle`);
      try {
        verifyChain(chain[0]!, chain.slice(1), cas, o.now);
      } catch (err) {
        throw fail(`the API server would not trust the injector: ${(err as Error).message}`, fix);
      }
    }
    expiryProblem('injector certificate', chain[0]!, o.now, 'renew the injector serving certificate (cert-manager renews it automatically when its Certificate is healthy)');
  });

  // ---- viz: the tap client certificate proxies verify ----
  const vizNs = o.vizNamespace;
  if (vizNs && anchorsRead && (await reads.namespaceExists(vizNs).catch(() => false))) {
    await run.check('weft-viz', 'tap client certificate is present and chains to a trust anchor', async () => {
      const s = await reads.secret(vizNs, VIZ_TAP_SECRET);
      const fix = `helm upgrade weft-viz weft-viz -n ${vizNs} --reuse-values with --set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key (the chart signs it) or --set viz.tapTls.issuerRef.name=<a cert-manager ClusterIssuer over the anchor>`;
      if (!s?.['tls.crt']) throw fail(`Secret ${vizNs}/${VIZ_TAP_SECRET} is missing or has no tls.crt: viz cannot start, tap is down`, fix);
      const chain = parseCertificateBundle(s['tls.crt'], `${VIZ_TAP_SECRET}/tls.crt`);
      try {
        verifyChain(chain[0]!, chain.slice(1), anchors, o.now);
      } catch (err) {
        throw fail(`proxies would refuse viz's tap certificate: ${(err as Error).message}`, fix);
      }
      expiryProblem("viz's tap certificate", chain[0]!, o.now, fix);
    });
  }

  // ---- data plane ----
  if (o.proxy) {
    let pods: MeshedPod[] = [];
    await run.check('weft-data-plane', 'meshed pods are found', async () => {
      pods = await reads.meshedPods(ns);
      if (pods.length === 0) throw warn('no meshed pods found', 'mesh a workload: annotate its namespace or pod template with weft.io/inject=enabled and restart it');
    });
    await run.check('weft-data-plane', 'every proxy is ready', () => {
      const notReady = pods.filter((p) => !p.proxyReady);
      if (notReady.length) {
        throw fail(`${notReady.length} proxies not ready: ${notReady.slice(0, 5).map((p) => `${p.namespace}/${p.name}`).join(', ')}`, 'kubectl -n <ns> logs <pod> -c weft-proxy; "weft diagnostics proxy-metrics <pod>"');
      }
    });
    if (anchorsRead) {
      // During an anchor rotation proxies must first trust the new anchor, and at the end stop trusting the old one.
      await run.check('weft-data-plane', 'proxies trust the current trust anchors', () => {
        const want = new Set(anchors.map((a) => a.fingerprint256));
        const missing: string[] = [];
        const extra: string[] = [];
        for (const p of pods) {
          if (!p.trustAnchorsPem) continue;
          let have: Set<string>;
          try {
            have = new Set(parseCertificateBundle(p.trustAnchorsPem, `${p.namespace}/${p.name}`).map((a) => a.fingerprint256));
          } catch {
            missing.push(`${p.namespace}/${p.name}`);
            continue;
          }
          if ([...want].some((f) => !have.has(f))) missing.push(`${p.namespace}/${p.name}`);
          else if ([...have].some((f) => !want.has(f))) extra.push(`${p.namespace}/${p.name}`);
        }
        const restart = 'restart those workloads so the injector gives them the anchors of ' + `${ns}/${TRUST_ROOTS_CONFIGMAP}: kubectl -n <ns> rollout restart deploy/<name>`;
        if (missing.length) throw warn(`${missing.length} proxies do not trust every current anchor (started before an anchor was added): ${missing.slice(0, 5).join(', ')}`, restart);
        if (extra.length) throw warn(`${extra.length} proxies still trust an anchor that was removed: ${extra.slice(0, 5).join(', ')}`, restart);
      });
    }
    await run.check('weft-data-plane', 'proxies run the control plane version', () => {
      const want = controlPlaneVersion ?? o.clientVersion;
      const skewed = pods.filter((p) => p.proxyVersion !== want);
      if (skewed.length) {
        throw warn(
          `${skewed.length} proxies are not at ${want}: ${skewed.slice(0, 5).map((p) => `${p.namespace}/${p.name} (${p.proxyVersion ?? 'unknown'})`).join(', ')}`,
          'restart those workloads so the injector gives them the current proxy: kubectl -n <ns> rollout restart deploy/<name>',
        );
      }
    });
  }
  if (controlPlaneVersion && controlPlaneVersion !== o.clientVersion) {
    await run.check('weft-version', 'control plane and CLI versions match', () => {
      throw warn(`control plane is ${controlPlaneVersion}, this CLI is ${o.clientVersion}`, 'use the CLI of the installed release, or upgrade the control plane');
    });
  }
  return run.results;
}

export function failed(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.status === 'fail');
}
