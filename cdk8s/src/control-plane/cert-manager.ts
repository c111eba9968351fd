/**
 * Optional cert-manager objects (`certManager.create`), for users who want the
 * chart to own them:
 *  - a CA Issuer over the trust anchor Secret the operator created, and the
 *    identity issuer Certificate it signs into `weft-identity-issuer`
 *    (renewed by cert-manager; identity hot-reloads it);
 *  - a CA Issuer over that identity issuer, and destination's serving
 *    Certificate with the DNS identity proxies expect of it;
 *  - a self-signed CA for the webhook and its serving Certificate
 *    `weft-injector` into `weft-injector-k8s-tls`, whose CA cainjector copies
 *    into the MutatingWebhookConfiguration.
 */
import { concat, or, release, truthy } from '../template/expr.js';
import { objectLabels } from '../chart/labels.js';
import type { ObjectSpec, WeftChart } from '../chart/weft-chart.js';
import { CHART, DESTINATION_SECRET, ISSUER_SECRET, WEBHOOK_SECRET, type Values } from './shared.js';

const CM = 'cert-manager.io/v1';
const ecdsa = { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' };

function issuer(name: string, component: string, spec: Record<string, unknown>): ObjectSpec {
  return { apiVersion: CM, kind: 'Issuer', name, labels: objectLabels(CHART, component), body: { spec } };
}

function certificate(name: string, component: string, spec: Record<string, unknown>): ObjectSpec {
  return { apiVersion: CM, kind: 'Certificate', name, labels: objectLabels(CHART, component), body: { spec } };
}

export function addCertManager(c: WeftChart, v: Values): void {
  const cm = v.certManager;
  const on = truthy(cm.create);
  const file = 'cert-manager.yaml';
  const identityName = concat`identity.${release.namespace}.${v.identityTrustDomain}`;
  c.add(file, issuer('weft-trust-anchor', 'identity', { ca: { secretName: cm.trustAnchorSecret } }), on);
  c.add(file, certificate(ISSUER_SECRET, 'identity', {
    secretName: ISSUER_SECRET,
    commonName: identityName,
    dnsNames: [identityName],
    isCA: true,
    duration: cm.issuerDuration,
    renewBefore: cm.issuerRenewBefore,
    privateKey: ecdsa,
    usages: ['cert sign', 'crl sign', 'server auth', 'client auth'],
    issuerRef: { name: 'weft-trust-anchor', kind: 'Issuer' },
  }), on);
  const destinationOn = or(on, truthy(v.destination.tls.certManager));
  c.add(file, issuer(ISSUER_SECRET, 'destination', { ca: { secretName: ISSUER_SECRET } }), destinationOn);
  const destinationName = concat`weft-destination.${release.namespace}.serviceaccount.identity.${release.namespace}.${v.identityTrustDomain}`;
  c.add(file, certificate('weft-destination', 'destination', {
    secretName: DESTINATION_SECRET,
    commonName: destinationName,
    dnsNames: [destinationName],
    duration: cm.destinationDuration,
    privateKey: ecdsa,
    usages: ['server auth', 'client auth'],
    issuerRef: { name: ISSUER_SECRET, kind: 'Issuer' },
  }), destinationOn);
  c.add(file, issuer('weft-webhook-selfsigned', 'injector', { selfSigned: {} }), on);
  c.add(file, certificate('weft-webhook-ca', 'injector', {
    secretName: 'weft-webhook-ca',
    commonName: 'weft-webhook-ca',
    isCA: true,
    duration: cm.webhookDuration,
    privateKey: ecdsa,
    issuerRef: { name: 'weft-webhook-selfsigned', kind: 'Issuer' },
  }), on);
  c.add(file, issuer('weft-webhook-ca', 'injector', { ca: { secretName: 'weft-webhook-ca' } }), on);
  c.add(file, certificate('weft-injector', 'injector', {
    secretName: WEBHOOK_SECRET,
    commonName: concat`weft-injector.${release.namespace}.svc`,
    dnsNames: [concat`weft-injector.${release.namespace}.svc`],
    duration: cm.webhookDuration,
    privateKey: ecdsa,
    usages: ['server auth'],
    issuerRef: { name: 'weft-webhook-ca', kind: 'Issuer' },
  }), on);
}
