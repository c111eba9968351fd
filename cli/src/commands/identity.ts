/** `weft identity POD...`: the certificate each pod's proxy presents (its workload identity), read through viz. */
import type { Command } from 'commander';
import type { PresentedCertificate } from '@weft/viz';
import { globalsOf } from '../globals.js';
import { renderStructured } from '../output.js';
import { connectViz } from '../viz-connection.js';

interface IdentityAnswer {
  namespace: string;
  pod: string;
  identity: string;
  certificate: PresentedCertificate;
}

export function addVizAddrOptions(cmd: Command): Command {
  return cmd
    .option('--api-addr <url>', 'viz metrics-api URL (env WEFT_VIZ_API_ADDR; default: the local demo on 127.0.0.1:8085, else a port-forward to the viz pod)');
}

export function registerIdentity(program: Command): void {
  addVizAddrOptions(
    program
      .command('identity')
      .description("show the certificate (workload identity) each pod's proxy presents")
      .argument('<pods...>', 'pod names (in --namespace)'),
  ).action(async (pods: string[], _opts: unknown, cmd: Command) => {
    const g = globalsOf(cmd);
    const { client } = await connectViz(g);
    const answers: IdentityAnswer[] = [];
    for (const pod of pods) answers.push(await client.json<IdentityAnswer>('/api/v1/identity', { namespace: g.namespace, pod }));
    const structured = renderStructured(g.output, answers.length === 1 ? answers[0] : answers);
    if (structured !== undefined) return void process.stdout.write(structured);
    answers.forEach((a, i) => {
      const c = a.certificate;
      process.stdout.write(
        [
          `POD ${a.pod} (${i + 1} of ${answers.length}) in ${a.namespace}`,
          `  identity:   ${a.identity}`,
          `  subject:    ${c.subject}`,
          `  issuer:     ${c.issuer}`,
          `  DNS names:  ${c.dnsNames.join(', ') || '-'}`,
          `  URIs:       ${c.uris.join(', ') || '-'}`,
          `  valid:      ${c.validFrom} to ${c.validTo}`,
          `  serial:     ${c.serialNumber}`,
          `  sha256:     ${c.fingerprint256}`,
          '',
          ...(g.output === 'wide' ? [c.chainPem] : []),
        ].join('\n') + '\n',
      );
    });
  });
}
