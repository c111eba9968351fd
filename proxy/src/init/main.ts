#!/usr/bin/env node
/**
 * weft-init: runs as the pod's init container (image `proxy`), or by the
 * local demo / e2e agent inside a "pod" network namespace. Exit 0 on success,
 * 2 on bad flags, 1 when iptables fails (with the reason on stderr).
 */
import { ConfigError } from '@weft/common/errors';
import { parseInitFlags, USAGE } from './flags.js';
import { applyInterception, removeInterception } from './iptables.js';
import { interceptionPlan } from './rules.js';

async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseInitFlags(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`weft-init: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const plan = interceptionPlan(command.config);
  try {
    if (command.teardown) {
      await removeInterception(plan);
      process.stdout.write(`weft-init: removed interception (${plan.families.join(', ')})\n`);
    } else {
      await applyInterception(plan);
      const c = command.config;
      process.stdout.write(
        `weft-init: interception set up (${plan.families.join(', ')}): inbound tcp -> ${c.inboundProxyPort}, ` +
          `outbound tcp -> ${c.outboundProxyPort}, uid ${c.proxyUid} and loopback excluded\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(`weft-init: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
