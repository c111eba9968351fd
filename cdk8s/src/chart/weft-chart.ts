/**
 * A cdk8s Chart that remembers, per object, its template file name and the
 * condition under which the object exists at all (an `{{- if }}` around the
 * file). Objects are raw ApiObjects: their JSON carries templating markers,
 * which cdk8s-plus' typed constructs would reject or rewrite (they fix
 * selectors and numbers at synthesis time, not at `helm install` time).
 */
import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { release, type Cond, type Expr } from '../template/expr.js';

export interface ObjectSpec {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** false for cluster-scoped kinds. */
  readonly namespaced?: boolean;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly body: Record<string, unknown>;
}

export interface PlacedObject {
  readonly file: string;
  readonly object: ApiObject;
  readonly condition: Cond | undefined;
}

/** A render-time refusal: `{{ fail message }}` when `condition` holds (templates/checks.yaml). */
export interface RenderCheck {
  readonly condition: Cond;
  readonly message: string;
}

export class WeftChart extends Chart {
  readonly placed: PlacedObject[] = [];
  /** Go template text written at the top of a template file, before its objects (sets `generated()` variables). */
  readonly preambles = new Map<string, string>();
  readonly checks: RenderCheck[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id, { disableResourceNameHashes: true });
  }

  /** Sets the file's preamble: Go template text that defines the `$variables` its objects' `generated()` values read. */
  preamble(file: string, text: string): void {
    if (this.preambles.has(file)) throw new Error(`templates/${file} already has a preamble`);
    this.preambles.set(file, text);
  }

  /** Refuses to render, naming what to set, when `condition` holds: a combination that would install and then hang. */
  check(condition: Cond, message: string): void {
    this.checks.push({ condition, message });
  }

  /** Adds one object, written to `templates/<file>` (several objects may share a file). */
  add(file: string, spec: ObjectSpec, condition?: Cond): ApiObject {
    const metadata: Record<string, unknown> = { name: spec.name };
    if (spec.namespaced !== false) metadata.namespace = release.namespace as Expr;
    if (spec.labels) metadata.labels = spec.labels;
    if (spec.annotations) metadata.annotations = spec.annotations;
    const object = new ApiObject(this, `${file}/${spec.kind}/${spec.name}`, {
      apiVersion: spec.apiVersion,
      kind: spec.kind,
      metadata: metadata as never,
      ...spec.body,
    });
    this.placed.push({ file, object, condition });
    return object;
  }
}
