/**
 * Serving certificates the chart generates at install time when nothing else
 * provides them (no cert-manager, no PEMs in values): the webhook's (a CA of
 * its own plus a leaf for `weft-injector.<ns>.svc`) and destination's (signed
 * by the identity issuer given in values, so proxies verify it against the
 * trust anchors). Each is generated once and then reused on every
 * `helm upgrade` through `lookup` of the Secret the chart rendered before,
 * while more than 30 days of its year remain (and, for destination, while it
 * was signed by the same issuer), so an upgrade does not replace a
 * certificate running pods and the API server trust. `helm template` cannot
 * look anything up: it renders a fresh one each time.
 *
 * The Go template text below is the only hand-written template in the charts:
 * Sprig's genCA/genSignedCert have no TypeScript twin (they are random), so
 * the synthesis sees their results as `generated()` placeholders.
 */
import { generated } from '../template/expr.js';
import { DESTINATION_SECRET, WEBHOOK_SECRET } from './shared.js';

/** Annotation on a generated Secret: when its certificate expires (Unix seconds), read back on upgrade. */
export const NOT_AFTER_ANNOTATION = 'weft.io/not-after';
/** Annotation on destination's generated Secret: sha256 of the issuer certificate that signed it. */
export const ISSUER_SHA_ANNOTATION = 'weft.io/issuer-sha256';

const VALIDITY_DAYS = 365;
const RENEW_WITHIN_SECONDS = 30 * 86400;

export const webhookGenerated = {
  caBundle: generated('webhookCaBundle'),
  caCrt: generated('webhookCaCrt'),
  crt: generated('webhookCrt'),
  key: generated('webhookKey'),
  notAfter: generated('webhookNotAfter'),
};

/** Preamble of the file holding the webhook Secret and the MutatingWebhookConfiguration (one CA for both). */
export function webhookPreamble(): string {
  return `{{- /* The webhook serving certificate, when the chart owns it and no PEMs are given (see generated-certs.ts). */}}
{{- $webhookCaBundle := "" }}{{- $webhookCaCrt := "" }}{{- $webhookCrt := "" }}{{- $webhookKey := "" }}{{- $webhookNotAfter := "" }}
{{- if and (not .Values.certManager.create) (not .Values.proxyInjector.externalSecret) (not .Values.proxyInjector.tls.crtPEM) }}
{{- $host := printf "weft-injector.%s.svc" .Release.Namespace }}
{{- $old := lookup "v1" "Secret" .Release.Namespace ${JSON.stringify(WEBHOOK_SECRET)} }}
{{- $oldData := dict }}{{- $oldNotAfter := 0 }}
{{- if $old }}{{- $oldData = $old.data | default dict }}{{- $oldNotAfter = index ($old.metadata.annotations | default dict) ${JSON.stringify(NOT_AFTER_ANNOTATION)} | default "0" | atoi }}{{- end }}
{{- $now := now | unixEpoch | atoi }}
{{- if and (hasKey $oldData "ca.crt") (hasKey $oldData "tls.crt") (hasKey $oldData "tls.key") (gt $oldNotAfter (add $now ${RENEW_WITHIN_SECONDS})) }}
{{- $webhookCaCrt = index $oldData "ca.crt" | b64dec }}
{{- $webhookCrt = index $oldData "tls.crt" | b64dec }}
{{- $webhookKey = index $oldData "tls.key" | b64dec }}
{{- $webhookNotAfter = printf "%d" $oldNotAfter }}
{{- $webhookCaBundle = $webhookCaCrt }}
{{- else }}
{{- $ca := genCAWithKey "weft-webhook-ca" ${VALIDITY_DAYS} (genPrivateKey "ecdsa") }}
{{- $leaf := genSignedCertWithKey $host nil (list $host) ${VALIDITY_DAYS} $ca (genPrivateKey "ecdsa") }}
{{- $webhookCaCrt = $ca.Cert }}
{{- $webhookCrt = $leaf.Cert }}
{{- $webhookKey = $leaf.Key }}
{{- $webhookNotAfter = printf "%d" (add $now (mul ${VALIDITY_DAYS} 86400)) }}
{{- /* Until the kubelet updates the injector's mounted Secret, it serves the old certificate: trust both CAs meanwhile. */}}
{{- $webhookCaBundle = print $webhookCaCrt (index $oldData "ca.crt" | default "" | b64dec) }}
{{- end }}
{{- end }}`;
}

export const destinationGenerated = {
  crt: generated('destinationCrt'),
  key: generated('destinationKey'),
  notAfter: generated('destinationNotAfter'),
  issuerSha: generated('destinationIssuerSha'),
};

export const DESTINATION_NEEDS_ISSUER =
  "destination's serving certificate: the chart signs it with the identity issuer, so pass the issuer with --set-file identity.issuer.tls.crtPEM=issuer.crt,identity.issuer.tls.keyPEM=issuer.key; or set certManager.create=true, or destination.tls.certManager=true (cert-manager issues it from weft-identity-issuer), or destination.tls.crtPEM/keyPEM, or destination.tls.externalSecret=true when you create the Secret weft-destination-tls";

/** Preamble of destination's Secret file: its leaf signed by the issuer in values, with the issuer in the chain. */
export function destinationPreamble(): string {
  return `{{- /* destination's serving certificate, when the chart owns it and no PEMs are given (see generated-certs.ts). */}}
{{- $destinationCrt := "" }}{{- $destinationKey := "" }}{{- $destinationNotAfter := "" }}{{- $destinationIssuerSha := "" }}
{{- if and (not .Values.certManager.create) (not .Values.destination.tls.certManager) (not .Values.destination.tls.externalSecret) (not .Values.destination.tls.crtPEM) }}
{{- $issuerCrt := required ${JSON.stringify(DESTINATION_NEEDS_ISSUER)} .Values.identity.issuer.tls.crtPEM }}
{{- $issuerKey := required ${JSON.stringify(DESTINATION_NEEDS_ISSUER)} .Values.identity.issuer.tls.keyPEM }}
{{- $destinationIssuerSha = sha256sum $issuerCrt }}
{{- $name := printf "weft-destination.%s.serviceaccount.identity.%s.%s" .Release.Namespace .Release.Namespace .Values.identityTrustDomain }}
{{- $old := lookup "v1" "Secret" .Release.Namespace ${JSON.stringify(DESTINATION_SECRET)} }}
{{- $oldData := dict }}{{- $oldAnnotations := dict }}
{{- if $old }}{{- $oldData = $old.data | default dict }}{{- $oldAnnotations = $old.metadata.annotations | default dict }}{{- end }}
{{- $oldNotAfter := index $oldAnnotations ${JSON.stringify(NOT_AFTER_ANNOTATION)} | default "0" | atoi }}
{{- $now := now | unixEpoch | atoi }}
{{- if and (hasKey $oldData "tls.crt") (hasKey $oldData "tls.key") (eq (index $oldAnnotations ${JSON.stringify(ISSUER_SHA_ANNOTATION)} | default "") $destinationIssuerSha) (gt $oldNotAfter (add $now ${RENEW_WITHIN_SECONDS})) }}
{{- $destinationCrt = index $oldData "tls.crt" | b64dec }}
{{- $destinationKey = index $oldData "tls.key" | b64dec }}
{{- $destinationNotAfter = printf "%d" $oldNotAfter }}
{{- else }}
{{- $leaf := genSignedCertWithKey $name nil (list $name) ${VALIDITY_DAYS} (buildCustomCert (b64enc $issuerCrt) (b64enc $issuerKey)) (genPrivateKey "ecdsa") }}
{{- /* The issuer follows the leaf: proxies hold only the anchors. */}}
{{- $destinationCrt = print $leaf.Cert (trim $issuerCrt) "\\n" }}
{{- $destinationKey = $leaf.Key }}
{{- $destinationNotAfter = printf "%d" (add $now (mul ${VALIDITY_DAYS} 86400)) }}
{{- end }}
{{- end }}`;
}
