/**
 * viz's client certificate for the proxies' tap servers (identity
 * `weft-viz.<ns>.serviceaccount.identity.<controlPlaneNamespace>.<trustDomain>`,
 * which injected proxies accept as their only tap client). Three sources:
 *  - cert-manager: a Certificate from the Issuer/ClusterIssuer in
 *    `viz.tapTls.issuerRef` (its CA must chain to the trust anchors);
 *  - the chart: signed at install time with the identity issuer given in
 *    `identity.issuer.tls` (the control plane's names), kept across upgrades
 *    through `lookup` while the issuer is the same and 30+ days remain;
 *  - you: `viz.tapTls.externalSecret`.
 * With none of them the chart refuses to render, naming the values.
 */
import { and, concat, generated, not, or, release, truthy, v as typed } from '../template/expr.js';
import { objectLabels } from '../chart/labels.js';
import type { WeftChart } from '../chart/weft-chart.js';
import type { RefsOf } from '../values/model.js';
import { VIZ_CHART } from './prometheus.js';
import type { vizValues } from './values.js';

type V = RefsOf<typeof vizValues>;
const FILE = 'viz-tap-tls.yaml';

export const TAP_TLS_SOURCE_REQUIRED =
  "viz's tap client certificate has no source: pass the mesh identity issuer so the chart signs it (--set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key), or name a cert-manager issuer whose CA chains to the trust anchors (viz.tapTls.issuerRef.name, viz.tapTls.issuerRef.kind), or set viz.tapTls.externalSecret=true when you create the Secret viz.tapTlsSecret";

const gen = { crt: generated('tapCrt'), key: generated('tapKey'), notAfter: generated('tapNotAfter'), issuerSha: generated('tapIssuerSha') };

function preamble(): string {
  return `{{- /* viz's tap client certificate signed with the identity issuer from values (see cdk8s/src/viz/tap-tls.ts). */}}
{{- $tapCrt := "" }}{{- $tapKey := "" }}{{- $tapNotAfter := "" }}{{- $tapIssuerSha := "" }}
{{- if and (not .Values.viz.tapTls.issuerRef.name) (not .Values.viz.tapTls.externalSecret) }}
{{- $issuerCrt := required ${JSON.stringify(TAP_TLS_SOURCE_REQUIRED)} .Values.identity.issuer.tls.crtPEM }}
{{- $issuerKey := required ${JSON.stringify(TAP_TLS_SOURCE_REQUIRED)} .Values.identity.issuer.tls.keyPEM }}
{{- $tapIssuerSha = sha256sum $issuerCrt }}
{{- $name := printf "weft-viz.%s.serviceaccount.identity.%s.%s" .Release.Namespace .Values.controlPlaneNamespace .Values.identityTrustDomain }}
{{- $old := lookup "v1" "Secret" .Release.Namespace .Values.viz.tapTlsSecret }}
{{- $oldData := dict }}{{- $oldAnnotations := dict }}
{{- if $old }}{{- $oldData = $old.data | default dict }}{{- $oldAnnotations = $old.metadata.annotations | default dict }}{{- end }}
{{- $oldNotAfter := index $oldAnnotations "weft.io/not-after" | default "0" | atoi }}
{{- $now := now | unixEpoch | atoi }}
{{- if and (hasKey $oldData "tls.crt") (hasKey $oldData "tls.key") (eq (index $oldAnnotations "weft.io/issuer-sha256" | default "") $tapIssuerSha) (gt $oldNotAfter (add $now 2592000)) }}
{{- $tapCrt = index $oldData "tls.crt" | b64dec }}
{{- $tapKey = index $oldData "tls.key" | b64dec }}
{{- $tapNotAfter = printf "%d" $oldNotAfter }}
{{- else }}
{{- $leaf := genSignedCertWithKey $name nil (list $name) 365 (buildCustomCert (b64enc $issuerCrt) (b64enc $issuerKey)) (genPrivateKey "ecdsa") }}
{{- $tapCrt = print $leaf.Cert (trim $issuerCrt) "\\n" }}
{{- $tapKey = $leaf.Key }}
{{- $tapNotAfter = printf "%d" (add $now (mul 365 86400)) }}
{{- end }}
{{- end }}`;
}

export function addTapTls(c: WeftChart, v: V): void {
  const t = v.viz.tapTls;
  const fromCertManager = truthy(t.issuerRef.name);
  const chartSigned = and(not(fromCertManager), not(truthy(t.externalSecret)));
  const identityName = concat`weft-viz.${release.namespace}.serviceaccount.identity.${v.controlPlaneNamespace}.${v.identityTrustDomain}`;
  c.check(and(chartSigned, or(not(truthy(v.identity.issuer.tls.crtPEM)), not(truthy(v.identity.issuer.tls.keyPEM)))), TAP_TLS_SOURCE_REQUIRED);
  c.preamble(FILE, preamble());
  c.add(FILE, {
    apiVersion: 'v1',
    kind: 'Secret',
    name: typed<string>(v.viz.tapTlsSecret),
    labels: objectLabels(VIZ_CHART, 'viz'),
    annotations: { 'weft.io/not-after': typed<string>(gen.notAfter), 'weft.io/issuer-sha256': typed<string>(gen.issuerSha) },
    body: { type: 'kubernetes.io/tls', stringData: { 'tls.crt': gen.crt, 'tls.key': gen.key } },
  }, chartSigned);
  c.add(FILE, {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    name: 'weft-viz-tap',
    labels: objectLabels(VIZ_CHART, 'viz'),
    body: {
      spec: {
        secretName: v.viz.tapTlsSecret,
        commonName: identityName,
        dnsNames: [identityName],
        duration: t.duration,
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        usages: ['client auth'],
        issuerRef: { name: t.issuerRef.name, kind: t.issuerRef.kind, group: 'cert-manager.io' },
      },
    },
  }, fromCertManager);
}
