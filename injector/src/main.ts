/**
 * `node injector/dist/main.js [--flag value ...]`: the admission webhook.
 * Every setting is an env var `WEFT_INJECTOR_<NAME>`; a flag `--<name>`
 * (e.g. `--tls-cert-file`) sets the same variable and wins over the env.
 */
import { ConfigError } from '@weft/common/errors';
import { startInjector } from './injector.js';

function flagsToEnv(argv: readonly string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new ConfigError([`unexpected argument "${argv[i]}" (flags look like --tls-cert-file=/path)`]);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError([`flag --${m[1]} needs a value`]);
    out[`WEFT_INJECTOR_${m[1]!.toUpperCase().replaceAll('-', '_')}`] = value;
  }
  return out;
}

try {
  const injector = await startInjector({ ...process.env, ...flagsToEnv(process.argv.slice(2)) });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // SIGTERM (the kubelet) races the Service's endpoint removal: keep answering until calls stop coming here.
      const drainMs = signal === 'SIGTERM' ? injector.shutdownDrainMs : 0;
      if (drainMs > 0) injector.log.info({ signal, drainMs }, 'draining: answering until the Service stops sending calls here');
      injector.drain();
      setTimeout(() => {
        injector.log.info({ signal }, 'shutting down');
        void injector.close().then(() => process.exit(0));
      }, drainMs);
    });
  }
} catch (err) {
  process.stderr.write(`weft injector: ${(err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
