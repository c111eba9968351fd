/** weft's charts as code: the definitions, their synthesis, and rendering with values. */
export { CHARTS, chartFiles, renderWithValues, synthesizeObjects, valuesReference, type ReleaseInfo } from './synth.js';
export { drift } from './synth-main.js';
export type { ChartDefinition } from './chart/definition.js';
