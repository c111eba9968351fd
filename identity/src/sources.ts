/**
 * Where the issuer and the trust anchors come from, behind one small seam so
 * the same service runs from Kubernetes objects (kubernetes-sources.ts), from
 * files (file-sources.ts) or from memory (the local demo and tests).
 */
import type { IssuerMaterial } from './issuer.js';

export interface SourceListener<T> {
  /** A new value; the service validates it before use. */
  change(value: T): void;
  /** The source changed into something unreadable (e.g. a Secret without tls.key); the service keeps what it has. */
  problem(err: Error): void;
}

export interface Source<T> {
  /** Reads the current value (rejecting, with a message naming what is missing, when there is none) and starts watching. */
  start(listener: SourceListener<T>): Promise<T>;
  stop(): Promise<void>;
}

export type IssuerSource = Source<IssuerMaterial>;
/** PEM bundle of trust anchors. */
export type TrustAnchorSource = Source<string>;

/** A value held in memory and replaced by `set` (the local demo's throwaway CA; rotation in tests). */
export class MemorySource<T> implements Source<T> {
  private listener: SourceListener<T> | undefined;

  constructor(private value: T) {}

  async start(listener: SourceListener<T>): Promise<T> {
    this.listener = listener;
    return this.value;
  }

  set(value: T): void {
    this.value = value;
    this.listener?.change(value);
  }

  /** Reports a broken update, as a watched object that became unreadable would. */
  fail(err: Error): void {
    this.listener?.problem(err);
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }
}
