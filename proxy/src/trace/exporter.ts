/**
 * The proxy's span exporter: the shared OTLP/HTTP exporter
 * (common/src/trace/exporter.ts) with the proxy's instrumentation scope.
 */
import { OtlpHttpExporter as SharedExporter, type ExporterOptions } from '@weft/common/trace/exporter';

export const SCOPE_NAME = 'weft-proxy';

export class OtlpHttpExporter extends SharedExporter {
  constructor(o: Omit<ExporterOptions, 'scope'>) {
    super({ ...o, scope: SCOPE_NAME });
  }
}
