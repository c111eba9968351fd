// The shared layers every image starts with, distroless-style: no shell, no
// package manager. `base` is glibc + libstdc++ + CA certificates + the users;
// `node` is the Node runtime alone; `iptables` is what weft-init runs (proxy
// image only). Each returns tar entries; the build turns them into layers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { debianPackage, nodeRuntime } from './sources.mjs';
import { entriesFromDir, withParents } from './tar.mjs';

export const PROXY_UID = 2102;
/** The charts run the control plane and viz as 2103 (cdk8s/src/chart/workload.ts); the images default to it too. */
export const CONTROL_PLANE_UID = 2103;
export const NONROOT_UID = 65532;

/** Paths no image needs: docs, man pages, locales, iconv modules, shell scripts and tools that need a shell. */
const DROP = [
  /^usr\/share\/(doc|man|info|lintian|locale|bug|gcc|gdb|iptables)(\/|$)/,
  /^usr\/lib\/x86_64-linux-gnu\/gconv(\/|$)/,
  /^usr\/lib\/x86_64-linux-gnu\/audit(\/|$)/,
  /^(usr\/)?s?bin\/(?!xtables-|ip6?tables)/, // libc6's getconf, ldd (a bash script), ldconfig, ...
  /^usr\/sbin\/ip6?tables-apply$/, // shell scripts
  /^etc\/(init\.d|default|logrotate\.d)(\/|$)/,
];
const keep = (path) => !DROP.some((re) => re.test(path));

const file = (path, text, mode = 0o644) => ({ path, type: 'file', mode, data: Buffer.from(text) });

function packages(names, log) {
  const versions = {};
  const entries = new Map();
  for (const name of names) {
    const pkg = debianPackage(name, log);
    versions[name] = pkg.version;
    for (const e of entriesFromDir(pkg.root, '', keep)) {
      const had = entries.get(e.path);
      if (had && had.type !== 'dir' && !(e.type === 'dir' && had.type === 'dir'))
        throw new Error(`images: ${name} and another package both ship ${e.path}`);
      entries.set(e.path, e);
    }
  }
  // Directories left empty by the filter are noise.
  const all = [...entries.values()];
  const used = new Set();
  for (const e of all) if (e.type !== 'dir') for (let p = e.path; p.includes('/');) used.add((p = p.slice(0, p.lastIndexOf('/'))));
  return { entries: all.filter((e) => e.type !== 'dir' || used.has(e.path)), versions };
}

/** The Mozilla bundle as update-ca-certificates writes it (ca-certificates' postinst does not run here). */
function caBundle(caRoot) {
  const dir = join(caRoot, 'usr/share/ca-certificates/mozilla');
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => f.endsWith('.crt'))
      .sort()
      .map((f) => {
        const pem = readFileSync(join(dir, f), 'utf8');
        return Buffer.from(pem.endsWith('\n') ? pem : `${pem}\n`);
      }),
  );
}

export function baseLayer(log) {
  const { entries, versions } = packages(['libc6', 'libgcc-s1', 'libstdc++6', 'netbase'], log);
  const ca = debianPackage('ca-certificates', log);
  versions['ca-certificates'] = ca.version;
  entries.push(
    file('etc/ssl/certs/ca-certificates.crt', caBundle(ca.root)),
    file(
      'etc/passwd',
      `root:x:0:0:root:/root:/sbin/nologin\nweft-proxy:x:${PROXY_UID}:${PROXY_UID}:weft proxy:/nonexistent:/sbin/nologin\nweft:x:${CONTROL_PLANE_UID}:${CONTROL_PLANE_UID}:weft control plane:/nonexistent:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
    ),
    file('etc/group', `root:x:0:\nweft-proxy:x:${PROXY_UID}:\nweft:x:${CONTROL_PLANE_UID}:\nnonroot:x:${NONROOT_UID}:\n`),
    file('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n'),
    file(
      'etc/os-release',
      'PRETTY_NAME="weft base (Debian 12 packages)"\nNAME="weft base"\nID=weft\nID_LIKE=debian\nHOME_URL="https://github.com/weft-mesh/weft"\n',
    ),
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'run', type: 'dir', mode: 0o755 },
    { path: 'root', type: 'dir', mode: 0o700 },
    { path: 'home/nonroot', type: 'dir', mode: 0o700, uid: NONROOT_UID, gid: NONROOT_UID },
  );
  return {
    entries: withParents(entries),
    versions,
    createdBy: `debian ${Object.entries(versions)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} + users + CA bundle`,
  };
}

export function nodeLayer(pin, log) {
  const rt = nodeRuntime(pin, log);
  const entries = [
    { path: 'usr/local/bin/node', type: 'file', mode: 0o755, data: readFileSync(rt.node) },
    { path: 'usr/local/share/doc/node/LICENSE', type: 'file', mode: 0o644, data: readFileSync(rt.license) },
  ];
  return { entries: withParents(entries), versions: { node: pin.version }, createdBy: `${pin.package}@${pin.version} bin/node` };
}

/** iptables/ip6tables (nft backend, Debian's default) with their libraries and xtables modules. */
export function iptablesLayer(log) {
  const { entries, versions } = packages(
    ['iptables', 'libxtables12', 'libip4tc2', 'libip6tc2', 'libnftnl11', 'libmnl0', 'libnetfilter-conntrack3', 'libnfnetlink0'],
    log,
  );
  // Debian picks the backend with update-alternatives in postinst; these are the links it makes by default.
  for (const fam of ['iptables', 'ip6tables']) {
    for (const suffix of ['', '-save', '-restore'])
      entries.push({ path: `usr/sbin/${fam}${suffix}`, type: 'symlink', target: 'xtables-nft-multi' });
  }
  return {
    entries: withParents(entries),
    versions,
    createdBy: `debian ${Object.entries(versions)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  };
}
