/**
 * Validates rendered objects against the Kubernetes OpenAPI schemas (the
 * kubernetes-models packages: JSON schemas generated from the Kubernetes
 * OpenAPI spec, checked with ajv). cert-manager and Prometheus Operator kinds use their own models.
 * A kind without a schema is an error, so nothing passes unchecked.
 */
type Model = new (data: unknown) => { validate(): void };

function moduleFor(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'cert-manager.io') return `@kubernetes-models/cert-manager/${group}/${version}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}`;
  return group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
}

export async function validateObject(o: Record<string, unknown>): Promise<void> {
  const apiVersion = String(o.apiVersion);
  const kind = String(o.kind);
  const mod = (await import(moduleFor(apiVersion))) as Record<string, Model | undefined>;
  const model = mod[kind];
  if (!model) throw new Error(`no schema for ${apiVersion} ${kind}`);
  new model(o).validate();
}
