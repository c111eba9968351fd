// crane (go-containerregistry) for pushing: built from its Go module at the
// version images/pins.json pins (checked against the Go checksum database by
// `go install`), cached by version like test/e2e's tools.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from './sources.mjs';

const pins = JSON.parse(readFileSync(new URL('../pins.json', import.meta.url), 'utf8'));

function goBin() {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/go/bin']) {
    if (existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  return 'go';
}

export async function ensureCrane(log = (l) => process.stderr.write(l)) {
  const { module, version } = pins.crane;
  const dir = join(cacheRoot, `crane-${version}`);
  const bin = join(dir, 'crane');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  log(`images: go install ${module}/cmd/crane@${version} (cold) ...\n`);
  execFileSync(goBin(), ['install', '-trimpath', '-ldflags=-s -w', `${module}/cmd/crane@${version}`], {
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return bin;
}
