/**
 * Named templates (`_helpers.tpl`). A helper's body is a small JSON tree in
 * the same marker vocabulary as the objects, so it has one definition that
 * both the Helm chart (as `define`) and the cdk8s synthesis (inlined) use.
 *  - `map` helpers are spliced into maps (labels, selector labels),
 *  - `text` helpers render to a YAML document used as a string (a config file
 *    in a ConfigMap) and as the input of a checksum annotation. Their strings
 *    are always double-quoted so that Go's `quote` and the TypeScript side
 *    produce the same bytes.
 */
export interface HelperDef {
  readonly name: string;
  readonly kind: 'map' | 'text';
  readonly description: string;
  readonly body: Record<string, unknown>;
}

export type Helpers = ReadonlyMap<string, HelperDef>;

export function helpers(...defs: HelperDef[]): Helpers {
  return new Map(defs.map((d) => [d.name, d]));
}
