/**
 * Workload identity names (ARCHITECTURE §1). One identity has two spellings:
 *   DNS:    <sa>.<ns>.serviceaccount.identity.<controlNs>.<trustDomain>
 *   SPIFFE: spiffe://<trustDomain>/ns/<ns>/sa/<sa>
 */
import { InvalidArgumentError } from './errors.js';

export interface WorkloadIdentity {
  readonly serviceAccount: string;
  readonly namespace: string;
  readonly controlNamespace: string;
  readonly trustDomain: string;
}

// Kubernetes object names: RFC 1123 DNS labels (namespaces) or subdomains
// without dots (ServiceAccounts are subdomains, but a dot would make the DNS
// form ambiguous, so weft rejects it).
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DOMAIN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

function checkLabel(what: string, value: string): void {
  if (!LABEL.test(value)) throw new InvalidArgumentError(`${what} "${value}" is not a valid DNS label`);
}

function checkIdentity(id: WorkloadIdentity): void {
  checkLabel('service account', id.serviceAccount);
  checkLabel('namespace', id.namespace);
  checkLabel('control namespace', id.controlNamespace);
  if (!DOMAIN.test(id.trustDomain) || id.trustDomain.length > 253) {
    throw new InvalidArgumentError(`trust domain "${id.trustDomain}" is not a valid DNS name`);
  }
}

export function formatDnsIdentity(id: WorkloadIdentity): string {
  checkIdentity(id);
  return `${id.serviceAccount}.${id.namespace}.serviceaccount.identity.${id.controlNamespace}.${id.trustDomain}`;
}

export function formatSpiffeIdentity(id: WorkloadIdentity): string {
  checkIdentity(id);
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function parseDnsIdentity(name: string): WorkloadIdentity {
  const parts = name.split('.');
  if (parts.length < 6 || parts[2] !== 'serviceaccount' || parts[3] !== 'identity') {
    throw new InvalidArgumentError(
      `"${name}" is not a weft identity (expected <sa>.<ns>.serviceaccount.identity.<controlNs>.<trustDomain>)`,
    );
  }
  const id = {
    serviceAccount: parts[0]!,
    namespace: parts[1]!,
    controlNamespace: parts[4]!,
    trustDomain: parts.slice(5).join('.'),
  };
  checkIdentity(id);
  return id;
}

/** Parses a SPIFFE ID; the control namespace is not part of it and must be supplied. */
export function parseSpiffeIdentity(uri: string, controlNamespace: string): WorkloadIdentity {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) throw new InvalidArgumentError(`"${uri}" is not a weft SPIFFE ID (expected spiffe://<trustDomain>/ns/<ns>/sa/<sa>)`);
  const id = { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]!, controlNamespace };
  checkIdentity(id);
  return id;
}

/** True when both spellings name the same workload (the control namespace is ignored for SPIFFE). */
export function sameWorkload(a: WorkloadIdentity, b: WorkloadIdentity): boolean {
  return a.serviceAccount === b.serviceAccount && a.namespace === b.namespace && a.trustDomain === b.trustDomain;
}
