/**
 * What `weft viz` verbs share: a client connected to viz (port-forward or
 * direct, with the tap token) and the resource argument they all take. Its
 * own module so viz.ts and viz-tap.ts both depend on it and not on each other.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseResource } from '@weft/viz/resource';
import type { Globals } from '../globals.js';
import type { VizClient } from '../viz-client.js';
import { connectViz } from '../viz-connection.js';

export async function vizClient(g: Globals, cmd: Command): Promise<VizClient> {
  const { token } = cmd.optsWithGlobals<{ token?: string }>();
  return (await connectViz(g, token ?? process.env.WEFT_TAP_TOKEN)).client;
}

/** `deploy web`, `deploy/web` or `deploy` → the API's `resource` parameter. */
export function resourceArg(kind: string, name: string | undefined): string {
  if (kind.includes('/') && name) throw new InvalidArgumentError(`give the resource as "${kind}" or "${kind.split('/')[0]} ${name}", not both`);
  const raw = name ? `${kind}/${name}` : kind;
  // Checked here too so a typo is a usage error (exit 2) even when viz is not reachable.
  parseResource(raw);
  return raw;
}
