/** The CLI's own version (cli/package.json; releases keep every package at the same version). */
import { readFileSync } from 'node:fs';

export const CLI_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
