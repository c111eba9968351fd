// The span model is shared with the control plane (common/src/trace/span.ts).
export * from '@weft/common/trace/span';
