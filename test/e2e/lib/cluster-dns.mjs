// The real node's cluster DNS (what CoreDNS is in a cluster; no CoreDNS image
// exists here): answers A queries for `<svc>.<ns>.svc.<domain>` with the
// Service's cluster IP (a headless Service: its ready endpoints' addresses),
// NXDOMAIN for everything else, from the Services and EndpointSlices it lists
// every second. The kubelet points pods at it (clusterDNS), and it listens on
// the pods' gateway inside the node netns, so nothing outside resolves here.
//
//   node cluster-dns.mjs --kubeconfig=FILE --listen=198.18.1.1 [--domain=cluster.local]
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { Kube } from './kube.mjs';

const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, listen: { type: 'string' }, domain: { type: 'string', default: 'cluster.local' } } });
const kube = Kube.fromKubeconfig(values.kubeconfig);
const suffix = `.svc.${values.domain}`;

/** name (lower case, no trailing dot) -> [IPv4] */
let records = new Map();

async function refresh() {
  const next = new Map();
  const [svcs, slices] = await Promise.all([kube.get('/api/v1/services'), kube.get('/apis/discovery.k8s.io/v1/endpointslices')]);
  const ready = new Map();
  for (const s of slices.items) {
    const key = `${s.metadata.namespace}/${s.metadata.labels?.['kubernetes.io/service-name']}`;
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false && s.addressType === 'IPv4') ready.set(key, [...(ready.get(key) ?? []), ...e.addresses]);
  }
  for (const s of svcs.items) {
    const name = `${s.metadata.name}.${s.metadata.namespace}${suffix}`;
    const ips = s.spec.clusterIP && s.spec.clusterIP !== 'None' ? [s.spec.clusterIP] : (ready.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? []);
    next.set(name, ips);
  }
  records = next;
}

function answer(msg) {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const rd = msg[2] & 1;
  if (msg.readUInt16BE(4) !== 1) return header(id, rd, 1, msg.subarray(12, 12), 0); // FORMERR
  let off = 12;
  const labels = [];
  while (off < msg.length && msg[off] !== 0) {
    const len = msg[off];
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(off);
  const question = msg.subarray(12, off + 4);
  const name = labels.join('.').toLowerCase();
  const ips = records.get(name);
  if (!ips) return header(id, rd, 3, question, 0); // NXDOMAIN
  const answers = qtype === 1 || qtype === 255 ? ips : [];
  const parts = [header(id, rd, 0, question, answers.length)];
  for (const ip of answers) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(5, 6); // TTL
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    parts.push(rr);
  }
  return Buffer.concat(parts);
}

function header(id, rd, rcode, question, ancount) {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8000 | 0x0400 | (rd << 8) | 0x0080 | rcode, 2); // QR, AA, RD, RA
  h.writeUInt16BE(question.length ? 1 : 0, 4);
  h.writeUInt16BE(ancount, 6);
  return Buffer.concat([h, question]);
}

await refresh();
setInterval(() => refresh().catch((err) => console.error(`cluster-dns: refresh: ${err.message}`)), 1000);
const sock = createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const r = answer(msg);
  if (r) sock.send(r, rinfo.port, rinfo.address);
});
sock.bind(53, values.listen, () => console.log(`cluster-dns: serving *${suffix} on ${values.listen}:53`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
