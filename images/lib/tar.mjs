// Deterministic tar layers: the same files always give the same bytes, so the
// same commit builds the same image digests. Entries are sorted by path, every
// mtime is 0, owners are numeric (uid/gid 0 unless an entry says otherwise)
// with empty user/group names, and gzip runs with no name and mtime 0.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';

/**
 * @typedef {{ path: string, type: 'file' | 'dir' | 'symlink', mode?: number, uid?: number, gid?: number, data?: Buffer, target?: string }} Entry
 * `path` is relative to the image root, without a leading slash.
 */

const BLOCK = 512;

function octal(value, width) {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key, value) {
  // A record is "<len> key=value\n" where len counts the whole record, its own digits included.
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + String(bodyLen).length;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function header({ name, mode, uid, gid, size, typeflag, linkname = '' }) {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(uid, 8), 108, 8, 'ascii');
  h.write(octal(gid, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii'); // mtime: the epoch, always
  h.fill(' ', 148, 156); // checksum field counts as spaces while summing
  h.write(typeflag, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

const pad = (n) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** The uncompressed tar of `entries` (sorted here; parents must be listed explicitly). */
export function tarOf(entries) {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const chunks = [];
  let prev;
  for (const e of sorted) {
    if (e.path === prev) throw new Error(`layer: duplicate entry ${e.path}`);
    prev = e.path;
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const target = e.target ?? '';
    const data = e.type === 'file' ? e.data : Buffer.alloc(0);
    const typeflag = { file: '0', dir: '5', symlink: '2' }[e.type];
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(target) > 100) {
      // POSIX pax extended header carries the long name; the ustar fields keep a truncated copy.
      let records = `${paxRecord('path', name)}`;
      if (target) records += paxRecord('linkpath', target);
      const body = Buffer.from(records, 'utf8');
      chunks.push(
        header({ name: `PaxHeaders/${name}`.slice(0, 99), mode: 0o644, uid: 0, gid: 0, size: body.length, typeflag: 'x' }),
        body,
        pad(body.length),
      );
    }
    const mode = e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
    chunks.push(
      header({
        name: name.slice(0, 100),
        mode,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size: data.length,
        typeflag,
        linkname: target.slice(0, 100),
      }),
    );
    if (data.length) chunks.push(data, pad(data.length));
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

/**
 * Entries for every file under `dir`, placed under `prefix` in the image.
 * Owners become root; modes keep their permission bits. Hard links become
 * separate regular files. `keep(path)` filters by image path.
 */
export function entriesFromDir(dir, prefix = '', keep = () => true) {
  const out = [];
  const walk = (abs, rel) => {
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const path = prefix ? `${prefix}/${r}` : r;
      if (!keep(path)) continue;
      const st = lstatSync(a);
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', target: readlinkSync(a) });
      else if (st.isDirectory()) {
        out.push({ path, type: 'dir', mode: st.mode & 0o7777 });
        walk(a, r);
      } else if (st.isFile()) out.push({ path, type: 'file', mode: st.mode & 0o7777, data: readFileSync(a) });
      else throw new Error(`layer: ${a} is neither a file, a directory nor a symlink`);
    }
  };
  walk(dir, '');
  return out;
}

/** Adds the parent directories of every entry that are not listed (mode 0755, root). */
export function withParents(entries) {
  const have = new Set(entries.map((e) => e.path));
  const extra = [];
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!have.has(p)) {
        have.add(p);
        extra.push({ path: p, type: 'dir' });
      }
    }
  }
  return [...entries, ...extra];
}

export const sha256 = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/**
 * A layer blob: { tar digest (diffID), gzip bytes, digest, sizes }. Node's
 * gzip writes mtime 0 and no file name, so the compressed bytes depend only
 * on the tar and zlib's level.
 */
export function gzipLayer(tar) {
  const gz = gzipSync(tar, { level: constants.Z_BEST_COMPRESSION });
  return { diffId: sha256(tar), blob: gz, digest: sha256(gz), size: gz.length, uncompressedSize: tar.length };
}
