// One release version: every workspace package (the CLI's `--version`, the
// injector's default proxy tag, viz's reported version) carries the root
// package.json's version, which is also the charts' appVersion and the images' tag.
import { readFileSync } from 'node:fs';

const read = (path) => JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'));
const root = read('package.json');
const lock = read('package-lock.json');
const wrong = [];
for (const ws of root.workspaces) {
  const { name, version } = read(`${ws}/package.json`);
  if (version !== root.version) wrong.push(`${ws}/package.json is ${version}`);
  const locked = lock.packages?.[ws]?.version;
  if (locked !== undefined && locked !== root.version) wrong.push(`package-lock.json's ${name} (${ws}) is ${locked}`);
}
if (lock.version !== root.version) wrong.push(`package-lock.json is ${lock.version}`);
if (wrong.length > 0) {
  console.error(`weft's release version is ${root.version} (package.json), but:\n  ${wrong.join('\n  ')}`);
  process.exit(1);
}
