/**
 * `node destination/dist/main.js`: reads the environment, starts destination
 * and stops cleanly on SIGTERM/SIGINT. Bad configuration exits 2 with every
 * problem named.
 */
import { readFileSync } from 'node:fs';
import { createLogger, ConfigError, loadKubeConfig, watchFiles } from '@weft/common';
import { Registry } from 'prom-client';
import { startTracing } from '@weft/common/trace/tracing';
import { loadDestinationConfig } from './config.js';
import { startDestination } from './destination.js';
import { FileSource } from './sources/file.js';
import { KubernetesSource } from './sources/kubernetes.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadDestinationConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('destination', config.logLevel);
  // The gRPC calls and the Kubernetes calls (lists behind the informers) as spans (docs/tracing.md).
  const tracing = config.tracing ? startTracing(config.tracing, 'weft-destination', new Registry(), log) : undefined;
  const readTls = () => ({
    cert: readFileSync(config.tlsCertFile, 'utf8'),
    key: readFileSync(config.tlsKeyFile, 'utf8'),
    ca: readFileSync(config.trustAnchorsFile, 'utf8'),
  });
  const source =
    config.source.kind === 'file'
      ? new FileSource(config.source.path, log, config.settings.clusterDomain)
      : new KubernetesSource(loadKubeConfig({ kubeconfig: config.source.kubeconfig, tracer: tracing?.tracer }), log);
  const controller = await startDestination({
    source,
    tls: readTls(),
    log,
    settings: config.settings,
    host: config.host,
    destinationPort: config.destinationPort,
    policyPort: config.policyPort,
    adminPort: config.adminPort,
    tracing,
  });
  // cert-manager renews the serving certificate and the kubelet swaps the mounted Secret's `..data`
  // symlink: follow the directories (watchFiles), not the first files' inodes, and keep serving the
  // old pair while a new one does not load.
  const watcher = watchFiles([config.tlsCertFile, config.tlsKeyFile, config.trustAnchorsFile], config.filePollMs, ([cert, key, ca]) => {
    try {
      controller.setTls({ cert: cert!, key: key!, ca: ca! });
      log.info({ certFile: config.tlsCertFile }, 'serving certificate reloaded');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'new serving certificate does not load yet; keeping the old one');
    }
  });
  const stop = async (signal: string): Promise<void> => {
    // The kubelet's SIGTERM and the Service's endpoint removal race: closing the streams at once sends the
    // proxies' reconnects back here (refused) for a while. Keep serving until the Service points elsewhere.
    if (signal === 'SIGTERM' && config.shutdownDrainMs > 0) {
      log.info({ signal, drainMs: config.shutdownDrainMs }, 'draining: serving until the Service stops sending connections here');
      await new Promise((r) => setTimeout(r, config.shutdownDrainMs));
    }
    log.info({ signal }, 'stopping');
    watcher.close();
    await controller.close();
    await tracing?.exporter.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`destination failed to start: ${(err as Error)?.message ?? err}`);
  process.exit(1);
});
