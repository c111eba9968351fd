#!/usr/bin/env node
// Entry shim: the CLI is written in TypeScript and compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('weft: the CLI is not built yet; run `npm run build` in the repository root');
  process.exit(1);
}
await import(main.href);
