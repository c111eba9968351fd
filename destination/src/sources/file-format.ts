/**
 * The local discovery file (YAML or JSON) and its translation into the
 * Kubernetes-shaped objects the resolvers read. Format: docs/destination.md,
 * "Local file source". Every problem is reported with its path.
 */
import { parse as parseYaml } from 'yaml';
import { InvalidArgumentError } from '@weft/common/errors';
import { parsePortList } from '@weft/common/config';
import { CRD_VERSION, POLICY_GROUP, PROFILE_GROUP } from '@weft/api/names';
import { ANNOTATION, POLICY_KINDS, SERVICE_NAME_LABEL, type Kind, type KindMap, type Pod } from '../model.js';
import { DEFAULT_INBOUND_POLICIES } from '../settings.js';

export interface FileObject {
  readonly kind: Kind;
  readonly obj: KindMap[Kind];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const WORKLOAD_KINDS = ['deployment', 'statefulset', 'daemonset', 'job'] as const;

class Problems {
  readonly list: string[] = [];
  add(path: string, why: string): void {
    this.list.push(`${path}: ${why}`);
  }
}

function name(v: unknown, path: string, p: Problems): string {
  if (typeof v !== 'string' || !DNS_LABEL.test(v)) {
    p.add(path, `must be a DNS label (lowercase letters, digits, '-'), got ${JSON.stringify(v)}`);
    return 'invalid';
  }
  return v;
}

function port(v: unknown, path: string, p: Problems): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) {
    p.add(path, `must be a port 1-65535, got ${JSON.stringify(v)}`);
    return 1;
  }
  return v as number;
}

function list(v: unknown, path: string, p: Problems): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.add(path, 'must be a list');
    return [];
  }
  return v;
}

function portsAnnotation(v: unknown, path: string, p: Problems): string | undefined {
  if (v === undefined) return undefined;
  const text = Array.isArray(v) ? v.join(',') : String(v);
  try {
    parsePortList(text);
  } catch (err) {
    p.add(path, (err as Error).message);
  }
  return text;
}

function stringMap(v: unknown, path: string, p: Problems): Record<string, string> {
  if (v === undefined) return {};
  if (!isObj(v)) {
    p.add(path, 'must be a map of strings');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = String(val);
  return out;
}

/** Parses the file text into objects; throws InvalidArgumentError listing every problem. */
export function parseDiscoveryFile(text: string, source = 'discovery file', clusterDomain = 'cluster.local'): FileObject[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${source}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw new InvalidArgumentError(`${source}: the top level must be a map with services, namespaces, policies`);
  const p = new Problems();
  const out: FileObject[] = [];
  const pods = new Map<string, Pod>();
  for (const key of Object.keys(doc)) if (!['services', 'namespaces', 'policies'].includes(key)) p.add(key, 'unknown key (expected services, namespaces, policies)');

  list(doc.namespaces, 'namespaces', p).forEach((n, i) => {
    const path = `namespaces[${i}]`;
    if (!isObj(n)) return p.add(path, 'must be a map');
    const annotations: Record<string, string> = {};
    if (n.defaultInboundPolicy !== undefined) annotations[ANNOTATION.defaultInboundPolicy] = defaultPolicy(n.defaultInboundPolicy, `${path}.defaultInboundPolicy`, p);
    out.push({ kind: 'Namespace', obj: { metadata: { name: name(n.name, `${path}.name`, p), annotations } } });
  });

  list(doc.services, 'services', p).forEach((s, i) => {
    const path = `services[${i}]`;
    if (!isObj(s)) return p.add(path, 'must be a map');
    serviceObjects(s, path, p, out, pods, clusterDomain);
  });
  for (const pod of pods.values()) out.push({ kind: 'Pod', obj: pod });

  list(doc.policies, 'policies', p).forEach((o, i) => {
    const path = `policies[${i}]`;
    if (!isObj(o)) return p.add(path, 'must be a map');
    if (!(POLICY_KINDS as readonly unknown[]).includes(o.kind)) return p.add(`${path}.kind`, `must be one of ${POLICY_KINDS.join(', ')}`);
    if (!isObj(o.spec)) return p.add(`${path}.spec`, 'must be a map');
    out.push({
      kind: o.kind as Kind,
      obj: {
        apiVersion: `${POLICY_GROUP}/${CRD_VERSION}`,
        kind: o.kind as string,
        metadata: { name: name(o.name, `${path}.name`, p), namespace: name(o.namespace ?? 'default', `${path}.namespace`, p) },
        spec: o.spec,
      },
    });
  });
  if (p.list.length > 0) throw new InvalidArgumentError(`${source}:\n  - ${p.list.join('\n  - ')}`);
  return out;
}

function defaultPolicy(v: unknown, path: string, p: Problems): string {
  if (!(DEFAULT_INBOUND_POLICIES as readonly unknown[]).includes(v)) p.add(path, `must be one of ${DEFAULT_INBOUND_POLICIES.join(', ')}`);
  return String(v);
}

interface PortSpec {
  readonly name: string | undefined;
  readonly port: number;
  readonly targetPort: number | string;
}

function serviceObjects(s: Obj, path: string, p: Problems, out: FileObject[], pods: Map<string, Pod>, clusterDomain: string): void {
  const svcName = name(s.name, `${path}.name`, p);
  const ns = name(s.namespace ?? 'default', `${path}.namespace`, p);
  const ports: PortSpec[] = list(s.ports, `${path}.ports`, p).map((sp, j) => {
    const pp = `${path}.ports[${j}]`;
    if (!isObj(sp)) {
      p.add(pp, 'must be a map {name, port, targetPort}');
      return { name: undefined, port: 1, targetPort: 1 };
    }
    const number = port(sp.port, `${pp}.port`, p);
    const tp = sp.targetPort === undefined ? number : typeof sp.targetPort === 'string' ? name(sp.targetPort, `${pp}.targetPort`, p) : port(sp.targetPort, `${pp}.targetPort`, p);
    return { name: sp.name === undefined ? undefined : name(sp.name, `${pp}.name`, p), port: number, targetPort: tp };
  });
  if (ports.length === 0) p.add(`${path}.ports`, 'at least one port is required');
  const annotations: Record<string, string> = {};
  const opaque = portsAnnotation(s.opaquePorts, `${path}.opaquePorts`, p);
  if (opaque) annotations[ANNOTATION.opaquePorts] = opaque;
  const headless = s.headless === true;
  const clusterIP = headless ? 'None' : typeof s.clusterIP === 'string' ? s.clusterIP : undefined;
  out.push({
    kind: 'Service',
    obj: {
      metadata: { name: svcName, namespace: ns, annotations },
      spec: { ...(clusterIP ? { clusterIP } : {}), ports: ports.map((sp) => ({ ...(sp.name ? { name: sp.name } : {}), port: sp.port, targetPort: sp.targetPort as never })) },
    },
  });
  list(s.endpoints, `${path}.endpoints`, p).forEach((e, j) => {
    const ep = `${path}.endpoints[${j}]`;
    if (!isObj(e)) return p.add(ep, 'must be a map');
    endpointObjects(e, ep, svcName, ns, j, ports, p, out, pods);
  });
  if (s.profile !== undefined) {
    if (!isObj(s.profile)) p.add(`${path}.profile`, 'must be a map (a ServiceProfile spec)');
    const fqdnName = `${svcName}.${ns}.svc.${clusterDomain}`;
    out.push({ kind: 'ServiceProfile', obj: { apiVersion: `${PROFILE_GROUP}/${CRD_VERSION}`, kind: 'ServiceProfile', metadata: { name: fqdnName, namespace: ns }, spec: s.profile } });
  }
}

function endpointObjects(e: Obj, path: string, svc: string, ns: string, index: number, ports: PortSpec[], p: Problems, out: FileObject[], pods: Map<string, Pod>): void {
  if (typeof e.ip !== 'string' || e.ip === '') p.add(`${path}.ip`, 'is required (an IP address)');
  const ip = String(e.ip);
  const podName = e.pod === undefined ? `${svc}-${index}` : name(e.pod, `${path}.pod`, p);
  // Per-endpoint ports: `port` (single-port services) or `ports: {<service port name>: n}`; default the target port.
  const override = e.ports === undefined ? {} : isObj(e.ports) ? e.ports : (p.add(`${path}.ports`, 'must be a map of service port name to port'), {});
  if (e.port !== undefined && ports.length !== 1) p.add(`${path}.port`, 'only for single-port services; use ports: {<name>: <port>}');
  const resolved = ports.map((sp) => {
    const o = e.port !== undefined ? e.port : sp.name ? override[sp.name] : undefined;
    const n = o !== undefined ? port(o, `${path}.port`, p) : typeof sp.targetPort === 'number' ? sp.targetPort : undefined;
    if (n === undefined) p.add(`${path}.ports`, `service port ${sp.name ?? sp.port} has a named targetPort: give this endpoint's port`);
    return { name: sp.name ?? '', port: n ?? 1, containerName: typeof sp.targetPort === 'string' ? sp.targetPort : sp.name };
  });
  const annotations: Record<string, string> = {};
  if (e.meshed === true) annotations[ANNOTATION.proxyVersion] = 'local';
  if (e.proxyInboundPort !== undefined) annotations[ANNOTATION.proxyInboundPort] = String(port(e.proxyInboundPort, `${path}.proxyInboundPort`, p));
  const opaque = portsAnnotation(e.opaquePorts, `${path}.opaquePorts`, p);
  if (opaque) annotations[ANNOTATION.opaquePorts] = opaque;
  if (e.defaultInboundPolicy !== undefined) annotations[ANNOTATION.defaultInboundPolicy] = defaultPolicy(e.defaultInboundPolicy, `${path}.defaultInboundPolicy`, p);
  const labels = stringMap(e.labels, `${path}.labels`, p);
  let ownerReferences: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean }[] = [];
  if (e.workload !== undefined) {
    const w = e.workload;
    if (!isObj(w) || !(WORKLOAD_KINDS as readonly unknown[]).includes(w.kind)) p.add(`${path}.workload`, `must be {kind: ${WORKLOAD_KINDS.join('|')}, name}`);
    else {
      const wname = name(w.name, `${path}.workload.name`, p);
      // A Deployment owns its pods through a ReplicaSet named <deployment>-<pod-template-hash>.
      if (w.kind === 'deployment') {
        labels['pod-template-hash'] = 'local';
        ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${wname}-local`, uid: `${wname}-local`, controller: true }];
      } else {
        const kind = { statefulset: 'StatefulSet', daemonset: 'DaemonSet', job: 'Job' }[w.kind as 'statefulset'];
        ownerReferences = [{ apiVersion: 'apps/v1', kind, name: wname, uid: wname, controller: true }];
      }
    }
  }
  const ready = e.ready !== false;
  const key = `${ns}/${podName}`;
  const existing = pods.get(key);
  const containerPorts = resolved.map((r) => ({ ...(r.containerName ? { name: r.containerName } : {}), containerPort: r.port }));
  if (existing) {
    existing.spec!.containers[0]!.ports!.push(...containerPorts);
  } else {
    pods.set(key, {
      metadata: { name: podName, namespace: ns, labels, annotations, ownerReferences },
      spec: {
        serviceAccountName: e.serviceAccount === undefined ? 'default' : name(e.serviceAccount, `${path}.serviceAccount`, p),
        containers: [{ name: 'app', ports: containerPorts }],
      },
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
    });
  }
  // One slice per endpoint: on loopback every endpoint may listen on its own port.
  out.push({
    kind: 'EndpointSlice',
    obj: {
      addressType: ip.includes(':') ? 'IPv6' : 'IPv4',
      metadata: { name: `${svc}-${index}`, namespace: ns, labels: { [SERVICE_NAME_LABEL]: svc } },
      ports: resolved.map((r) => ({ name: r.name, port: r.port, protocol: 'TCP' })),
      endpoints: [{ addresses: [ip], conditions: { ready }, targetRef: { kind: 'Pod', name: podName, namespace: ns } }],
    },
  });
}
