/**
 * Test support: identity's Certify service on a free loopback port with the
 * settings every test shares (trust domain cluster.local, control namespace
 * weft), issuer and trust anchors from memory, a fake TokenReview and a
 * captured log.
 */
import { after } from 'node:test';
import type { Registry } from 'prom-client';
import { TestPki } from '@weft/common/testing/pki';
import { createRegistry } from '@weft/common/metrics';
import { startIdentityService, type IdentityService, type IdentityServiceOptions } from '../identity-service.js';
import type { IssuerMaterial } from '../issuer.js';
import { MemorySource } from '../sources.js';
import { FakeTokenValidator } from './fake-token-validator.js';
import { captureLog, type LogRecord } from './log-capture.js';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';

export interface TestIdentityOptions<V extends FakeTokenValidator> extends Omit<Partial<IdentityServiceOptions>, 'validator'> {
  readonly issuer: IssuerMaterial;
  readonly anchorPem: string;
  /** Default: a new FakeTokenValidator. */
  readonly validator?: V;
}

export interface TestIdentity<V extends FakeTokenValidator = FakeTokenValidator> {
  readonly service: IdentityService;
  readonly validator: V;
  readonly issuerSource: MemorySource<IssuerMaterial>;
  readonly trustSource: MemorySource<string>;
  readonly records: LogRecord[];
  readonly registry: Registry;
}

export async function startTestIdentity<V extends FakeTokenValidator = FakeTokenValidator>(o: TestIdentityOptions<V>): Promise<TestIdentity<V>> {
  const { issuer, anchorPem, ...extra } = o;
  const validator = o.validator ?? (new FakeTokenValidator() as V);
  const issuerSource = new MemorySource(issuer);
  const trustSource = new MemorySource(anchorPem);
  const { log, records } = captureLog();
  const registry = createRegistry('identity-test');
  const service = await startIdentityService({
    host: '127.0.0.1',
    port: 0,
    trustDomain: 'cluster.local',
    controlNamespace: 'weft',
    issuerSource,
    trustSource,
    log,
    registry,
    ...extra,
    validator,
  });
  return { service, validator, issuerSource, trustSource, records, registry };
}

/** A test file's PKI and the identity services it started; see `testFiles`. */
export interface TestFiles {
  readonly pki: TestPki;
  /** Push each started service: all are closed after the file's tests. */
  readonly services: IdentityService[];
}

/** For a test file: a throwaway PKI and a list of services, closed and removed after its tests. */
export function testFiles(): TestFiles {
  const files: TestFiles = { pki: new TestPki(), services: [] };
  after(async () => {
    await Promise.all(files.services.map((s) => s.close()));
    files.pki.dispose();
  });
  return files;
}

/** How a call ended: `ok`, or the name of its gRPC code (any other error fails the test). */
export async function callOutcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof ConnectError, String(err));
    return Code[err.code];
  }
}
