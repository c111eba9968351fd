// The images this node can run. There is no container runtime here: an image
// name maps to a program on this machine (a weft workspace's compiled entry
// point or a demo app), run inside the pod's network namespace. Anything else
// fails with a clear status instead of pretending to run.
import { existsSync } from 'node:fs';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const node = process.execPath;

/** Repository name → default entrypoint (argv) and working directory. */
const IMAGES = {
  // Demo/test app: HTTP echo server that names its pod.
  'weft-e2e/echo': { argv: [node, `${repoRoot}test/e2e/images/echo.mjs`] },
  // weft components: `<registry>/<name>:<tag>` runs `node <ws>/dist/main.js`.
  proxy: { argv: [node, `${repoRoot}proxy/dist/main.js`] },
  identity: { argv: [node, `${repoRoot}identity/dist/main.js`] },
  destination: { argv: [node, `${repoRoot}destination/dist/main.js`] },
  injector: { argv: [node, `${repoRoot}injector/dist/main.js`] },
  viz: { argv: [node, `${repoRoot}viz/dist/main.js`] },
};

/** Commands an image's containers may name instead of the default entrypoint. */
const COMMANDS = {
  'weft-init': [node, `${repoRoot}proxy/dist/init/main.js`],
};

export const knownImages = () => Object.keys(IMAGES);

/** `ghcr.io/weft-mesh/proxy:0.1.0` → `proxy`; `weft-e2e/echo:1` → `weft-e2e/echo`. */
export function repositoryOf(image) {
  const noDigest = image.split('@')[0];
  const lastColon = noDigest.lastIndexOf(':');
  const noTag = lastColon > noDigest.lastIndexOf('/') ? noDigest.slice(0, lastColon) : noDigest;
  if (IMAGES[noTag]) return noTag;
  const parts = noTag.split('/');
  for (let i = 1; i < parts.length; i++) {
    const candidate = parts.slice(i).join('/');
    if (IMAGES[candidate]) return candidate;
  }
  return undefined;
}

/**
 * Resolves a container spec to { argv, cwd } or { error } with a message for
 * the pod's status. Kubernetes semantics: `command` replaces the entrypoint,
 * `args` replace its arguments.
 */
export function resolveContainer(container) {
  const repo = repositoryOf(container.image ?? '');
  if (!repo) {
    return { reason: 'ErrImagePull', error: `weft-e2e node agent cannot run image "${container.image}": it runs only the images it knows (${knownImages().join(', ')})` };
  }
  let argv = [...IMAGES[repo].argv];
  if (container.command?.length) {
    const mapped = COMMANDS[container.command[0]];
    argv = mapped ? [...mapped, ...container.command.slice(1)] : [...container.command];
  }
  if (container.args?.length) argv = [...argv, ...container.args];
  const entry = argv.find((a) => a.startsWith(repoRoot) && a.endsWith('.js'));
  if (entry && !existsSync(entry)) {
    return { reason: 'CreateContainerError', error: `image "${container.image}" maps to ${entry}, which is not built (run \`npx tsc -b\`)` };
  }
  return { argv, cwd: repoRoot };
}
