/**
 * Chart and app versions. appVersion is the weft release (root package.json)
 * and is the default tag of every weft image, so "appVersion tracks images".
 */
import { readFileSync } from 'node:fs';

export const CHART_VERSION = '0.3.0';

export const APP_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Semantic Versioning 2.0.0, as Helm requires for chart versions. */
export const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
