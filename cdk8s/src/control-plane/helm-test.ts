/**
 * `helm test weft -n <ns>`: a Pod (hook `test`) that checks, from inside the
 * cluster, what `weft check` checks from outside: identity and destination
 * serve certificates that chain to the trust anchors in
 * `weft-identity-trust-roots`, and the injector's webhook serves a
 * certificate for `weft-injector.<ns>.svc` that verifies with the CA in its
 * Secret. It runs the identity image's node with a short script (no shell,
 * no extra image) under the same hardened pod security as the components.
 */
import { release, v as typed } from '../template/expr.js';
import { objectLabels } from '../chart/labels.js';
import type { WeftChart } from '../chart/weft-chart.js';
import { CHART, TRUST_ROOTS_CONFIGMAP, WEBHOOK_SECRET, image, type Values } from './shared.js';

// Each probe: a TLS handshake verified against the given CA file; any failure exits 1 naming the component.
const SCRIPT = `
const tls = require('node:tls');
const fs = require('node:fs');
const ns = process.env.NS;
const anchors = fs.readFileSync('/var/run/weft/trust-roots/ca-bundle.crt', 'utf8');
// A webhook Secret made outside the chart may carry no ca.crt: then its CA is only in the webhook's caBundle.
const webhookCa = fs.existsSync('/var/run/weft/webhook/ca.crt') ? fs.readFileSync('/var/run/weft/webhook/ca.crt', 'utf8') : undefined;
// identity and destination speak gRPC (ALPN h2 only); the webhook speaks HTTP/1.1.
const probe = (what, host, port, ca, servername, checkName, alpn) => new Promise((resolve, reject) => {
  const s = tls.connect({ host, port, ca, servername, ALPNProtocols: [alpn], checkServerIdentity: checkName ? tls.checkServerIdentity : () => undefined });
  s.setTimeout(10000, () => s.destroy(new Error('timed out')));
  s.once('secureConnect', () => { console.log('ok   ' + what + ': ' + s.getPeerCertificate().subject.CN); s.end(); resolve(); });
  s.once('error', (e) => reject(new Error(what + ': ' + e.message)));
});
(async () => {
  await probe('identity serves a certificate chaining to the trust anchors', 'weft-identity.' + ns + '.svc', 8080, anchors, undefined, false, 'h2');
  await probe('destination serves a certificate chaining to the trust anchors', 'weft-destination.' + ns + '.svc', 8086, anchors, undefined, false, 'h2');
  if (webhookCa) await probe('the webhook serves weft-injector.' + ns + '.svc, signed by its CA', 'weft-injector.' + ns + '.svc', 443, webhookCa, 'weft-injector.' + ns + '.svc', true, 'http/1.1');
  else console.log('skip the webhook: its Secret has no ca.crt (weft check compares it with the caBundle)');
})().catch((e) => { console.error('FAIL ' + e.message); process.exit(1); });
`.trim();

export function addHelmTest(c: WeftChart, v: Values): void {
  c.add('tests/control-plane-test.yaml', {
    apiVersion: 'v1',
    kind: 'Pod',
    name: 'weft-control-plane-test',
    labels: objectLabels(CHART, 'test'),
    annotations: { 'helm.sh/hook': 'test', 'helm.sh/hook-delete-policy': 'before-hook-creation', 'weft.io/inject': 'disabled' },
    body: {
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { runAsNonRoot: true, runAsUser: 2103, runAsGroup: 2103, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{
          name: 'probe',
          image: image(v, v.identity.image),
          imagePullPolicy: v.image.pullPolicy,
          command: ['/usr/local/bin/node', '-e', SCRIPT],
          env: [{ name: 'NS', value: typed<string>(release.namespace) }],
          resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'trust-roots', mountPath: '/var/run/weft/trust-roots', readOnly: true },
            { name: 'webhook', mountPath: '/var/run/weft/webhook', readOnly: true },
          ],
        }],
        volumes: [
          { name: 'trust-roots', configMap: { name: TRUST_ROOTS_CONFIGMAP } },
          { name: 'webhook', secret: { secretName: WEBHOOK_SECRET, optional: true, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        ],
      },
    },
  });
}
