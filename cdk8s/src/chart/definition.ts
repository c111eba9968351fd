/**
 * What a weft chart is made of: its values model, its helpers and NOTES, the
 * construct code that adds its objects, and example values files shipped
 * beside values.yaml (values-ha.yaml, ...).
 */
import type { Helpers } from '../template/helpers.js';
import type { Fields, Group, PartialValuesOf, RefsOf } from '../values/model.js';
import type { WeftChart } from './weft-chart.js';

export interface ChartDefinition<S extends Fields = Fields> {
  readonly name: string;
  readonly description: string;
  /** Chart version (semver); bumped when the chart changes. */
  readonly version: string;
  readonly model: Group<S>;
  /** Source file of the model, named in generated files. */
  readonly valuesSource: string;
  readonly helpers: Helpers;
  /** NOTES.txt (Go template text shown after install/upgrade). */
  readonly notes: string;
  /** Example values files written next to values.yaml, by file name; typed by the model, so a misspelt or mistyped key does not compile. */
  readonly examples: Readonly<Record<string, PartialValuesOf<Group<S>>>>;
  build(chart: WeftChart, values: RefsOf<Group<S>>): void;
}

export function defineChart<S extends Fields>(def: ChartDefinition<S>): ChartDefinition {
  return def as unknown as ChartDefinition;
}
