/**
 * The injector's own tracing settings (WEFT_INJECTOR_TRACE_*, docs/tracing.md),
 * distinct from the WEFT_INJECTOR_PROXY_TRACE_* defaults it gives the proxies
 * it injects (mesh-config.ts).
 */
import { loadConfig } from '@weft/common/config';
import { controlPlaneTraceConfig, controlPlaneTraceSchema, type TraceConfig } from '@weft/common/trace/config';

/** Undefined: tracing is off (WEFT_INJECTOR_TRACE_COLLECTOR unset). Throws a ConfigError naming each bad variable. */
export function loadInjectorTraceConfig(source: NodeJS.ProcessEnv): TraceConfig | undefined {
  return controlPlaneTraceConfig('INJECTOR', 'injector', loadConfig(controlPlaneTraceSchema('INJECTOR'), source));
}
