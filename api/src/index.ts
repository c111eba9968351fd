// weft's wire contracts. The messages and service descriptors are generated
// from api/proto by `npm run gen -w api`; this file only re-exports them.
export * as net from './gen/weft/net/v1/net_pb.js';
export * as identity from './gen/weft/identity/v1/identity_pb.js';
export * as destination from './gen/weft/destination/v1/destination_pb.js';
export * as policy from './gen/weft/policy/v1/policy_pb.js';
export * as tap from './gen/weft/tap/v1/tap_pb.js';
export * as demo from './gen/weft/demo/v1/demo_pb.js';
// OTLP (OpenTelemetry protocol v1.11.0, copied unchanged under api/proto/opentelemetry): spans the proxies export.
export * as otlpCommon from './gen/opentelemetry/proto/common/v1/common_pb.js';
export * as otlpResource from './gen/opentelemetry/proto/resource/v1/resource_pb.js';
export * as otlpTrace from './gen/opentelemetry/proto/trace/v1/trace_pb.js';
export * as otlpTraceService from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
