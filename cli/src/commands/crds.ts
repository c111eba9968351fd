/**
 * `weft crds migrate`: the operator's step after `helm upgrade` of weft-crds
 * to a release with a new storage version (docs/crds.md). Rewrites every
 * object of every weft CRD so etcd holds it at the storage version, then
 * records that in each CRD's `status.storedVersions`. Idempotent: a CRD whose
 * storedVersions already names only the storage version is left alone.
 * Exit code 5 when the user lacks a permission (nothing is written), 1 when a
 * CRD could not be migrated.
 */
import { InvalidArgumentError, PermissionDeniedError } from '@weft/common/errors';
import type { Command } from 'commander';
import { CRD_VERSION } from '@weft/api/names';
import { EXIT } from '../exit-codes.js';
import { globalsOf } from '../globals.js';
import { renderStructured } from '../output.js';
import { DEFAULT_MIGRATION_OPTIONS, describeMigration, migrateCrds, migrationPermissions } from './crds-migrate.js';

function positiveInt(flag: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} "${raw}" must be a positive integer`);
    return n;
  };
}

export function registerCrds(program: Command): void {
  const crds = program.command('crds').description("weft's CustomResourceDefinitions");
  crds
    .command('migrate')
    .description(`rewrite every weft custom resource so etcd stores it at ${CRD_VERSION}, then set each CRD's status.storedVersions to [${CRD_VERSION}] (run after upgrading weft-crds)`)
    .option('--page-size <n>', 'objects per list request', positiveInt('--page-size'), DEFAULT_MIGRATION_OPTIONS.pageSize)
    .action(async (opts: { pageSize: number }, cmd: Command) => {
      const g = globalsOf(cmd);
      const kc = await g.kubeConfig();
      const { findDenied } = await import('@weft/common/k8s/access-review');
      // Every permission is checked before the first write, so a user who may not finish leaves nothing half done.
      const denied = await findDenied(kc, 'weft crds migrate', migrationPermissions());
      if (denied.length > 0) {
        throw new PermissionDeniedError(
          `weft crds migrate: the current user may not:\n  - ${denied.map((d) => d.description).join('\n  - ')}\nnothing was changed; run it as a cluster admin (docs/crds.md lists the permissions)`,
        );
      }
      const { kubernetesCrdStore } = await import('./crds-kubernetes.js');
      const results = await migrateCrds(kubernetesCrdStore(kc), { ...DEFAULT_MIGRATION_OPTIONS, pageSize: opts.pageSize });
      const ok = results.every((r) => r.outcome !== 'failed');
      process.stdout.write(renderStructured(g.output, { results, ok }) ?? results.map((r) => describeMigration(r) + '\n').join(''));
      if (!ok) process.exitCode = EXIT.FAILURE;
    });
}
