// One release version: every workspace package (the CLI's `--version`, the
// injector's default proxy tag, viz's reported version) carries the root
// package.json's version, which is also the charts' appVersion and the images' tag.
import { readFileSync } from 'node:fs';

const read = (path) => JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'));
const root = read('package.json');
const lock = read('package-lock.json');
const wrong = [];
for (const ws of root.workspaces) {
  const pkg = read(`${ws}/package.json`);
  const { name, version } = pkg;
  if (version !== root.version) wrong.push(`${ws}/package.json is ${version}`);
  // A range on a sibling workspace would stop matching at the next release, and npm ci would look for it in the registry.
  for (const deps of [pkg.dependencies, pkg.devDependencies, pkg.peerDependencies])
    for (const [dep, range] of Object.entries(deps ?? {})) if (dep.startsWith('@weft/') && range !== '*') wrong.push(`${ws}/package.json asks for ${dep}@${range} (siblings: "*")`);
  const locked = lock.packages?.[ws]?.version;
  if (locked !== undefined && locked !== root.version) wrong.push(`package-lock.json's ${name} (${ws}) is ${locked}`);
}
if (lock.version !== root.version) wrong.push(`package-lock.json is ${lock.version}`);
if (wrong.length > 0) {
  console.error(`weft's release version is ${root.version} (package.json), but:\n  ${wrong.join('\n  ')}`);
  process.exit(1);
}
