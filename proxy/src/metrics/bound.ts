/**
 * Metric children bound to one label set that update their series directly.
 * prom-client's `family.labels(l)` children re-hash the label set on every
 * `inc`/`observe` (a sorted string join of up to 20 labels), several times
 * per request on the hot path. These find the series once and then only add
 * numbers. They read prom-client's per-family series map (`hashMap`, whose
 * entries keep their label set): the first update goes through the family
 * (validation, series creation) and finds the entry, later ones update it;
 * a family reset (new map) sends the next update through the family again.
 * bound.test.ts pins this against the exposition text.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';

type Labels = Record<string, string>;

interface Series {
  readonly labels: object;
  value: number;
}
interface HistogramSeries {
  readonly labels: object;
  sum: number;
  count: number;
  bucketValues: Record<number, number>;
}
/** The part of a prom-client family these children use (prom-client 15). */
interface Family<S> {
  hashMap: Record<string, S>;
}

abstract class BoundSeries<S extends { readonly labels: object }> {
  private map: Record<string, S> | undefined;
  private entry: S | undefined;

  constructor(
    private readonly fam: Family<S>,
    protected readonly labels: Labels,
  ) {}

  /** The bound series, or undefined until the family has created it (or after a reset). */
  protected series(): S | undefined {
    return this.map === this.fam.hashMap ? this.entry : undefined;
  }

  /** After an update through the family: find the series it created (once per child, or per reset). */
  protected bind(): void {
    const map = this.fam.hashMap;
    for (const key in map) {
      if (sameLabels(map[key]!.labels as Labels, this.labels)) {
        this.map = map;
        this.entry = map[key];
        return;
      }
    }
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

export class BoundCounter extends BoundSeries<Series> {
  constructor(private readonly family: Counter<string>, labels: Labels) {
    super(family as unknown as Family<Series>, labels);
  }

  inc(value = 1): void {
    const s = this.series();
    if (s !== undefined && value >= 0 && Number.isFinite(value)) s.value += value;
    else {
      this.family.inc(this.labels, value);
      this.bind();
    }
  }
}

export class BoundGauge extends BoundSeries<Series> {
  constructor(private readonly family: Gauge<string>, labels: Labels) {
    super(family as unknown as Family<Series>, labels);
  }

  inc(value = 1): void {
    const s = this.series();
    if (s !== undefined && Number.isFinite(value)) s.value += value;
    else {
      this.family.inc(this.labels, value);
      this.bind();
    }
  }

  dec(value = 1): void {
    this.inc(-value);
  }
}

export class BoundHistogram extends BoundSeries<HistogramSeries> {
  private readonly upperBounds: readonly number[];

  constructor(private readonly family: Histogram<string>, labels: Labels) {
    super(family as unknown as Family<HistogramSeries>, labels);
    this.upperBounds = (family as unknown as { upperBounds: readonly number[] }).upperBounds;
  }

  observe(value: number): void {
    const s = this.series();
    if (s === undefined || !Number.isFinite(value)) {
      this.family.observe(this.labels, value);
      this.bind();
      return;
    }
    s.sum += value;
    s.count += 1;
    // Buckets are counted per bound (made cumulative at exposition); above the last bound only +Inf (count) grows.
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        s.bucketValues[bounds[i]!]! += 1;
        return;
      }
    }
  }
}
