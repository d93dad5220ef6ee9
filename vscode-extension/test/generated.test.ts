// The generated protocol is what the generator writes now from the checked-in schema (the
// Python side checks that the schema is what the server emits), and its decoders check types.
import './shim/register';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  ERROR_KINDS,
  ProtocolError,
  RESULT_DECODERS,
  SERVER_COMMANDS,
  decodeComposition,
  decodeErrorData,
  decodeReport,
} from '../src/generated/protocol';
import { sampleReport } from './helpers';

// out/test/x.test.js -> the extension folder
const EXTENSION = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const generator = require(path.join(EXTENSION, 'scripts', 'gen-protocol.js')) as {
  outputs(): [string, string][];
  generate(schema: unknown): string;
};

test('src/generated/protocol.ts and the node_wire twin are what the generator writes now', () => {
  const outputs = generator.outputs();
  assert.equal(outputs.length, 2);
  for (const [file, text] of outputs) {
    assert.equal(readFileSync(file, 'utf8'), text, `${file} is stale: run node scripts/gen-protocol.js`);
  }
});

test('the generator follows the schema: a new field becomes a typed, decoded field', () => {
  const schema = JSON.parse(readFileSync(path.join(EXTENSION, 'src', 'generated', 'schema.json'), 'utf8')) as {
    $defs: Record<string, { properties: Record<string, unknown>; required: string[] }>;
  };
  const sync = schema.$defs['SyncInfo'];
  assert.ok(sync !== undefined);
  sync.properties['installer'] = { type: 'string' };
  sync.required.push('installer');
  const text = generator.generate(schema);
  assert.match(text, /readonly installer: string;/);
  assert.match(text, /installer: primitive\(need\(r, "installer", where\), `\$\{where\}\.installer`, \["string"\]\)/);
});

test('the contract names every command, error kind and report key the server has', () => {
  assert.ok(SERVER_COMMANDS.includes('envlayers.listCompositions'));
  assert.ok(SERVER_COMMANDS.includes('envlayers.listProfiles'));
  assert.deepEqual([...ERROR_KINDS].sort(), ['cancelled', 'install-failed', 'internal-error', 'interpreter-not-found', 'invalid-input', 'not-available']);
  const report = sampleReport({ name: null, warnings: ['the workspace environment is out-of-sync'] });
  assert.deepEqual(decodeReport(JSON.parse(JSON.stringify(report))), report);
  assert.equal(decodeErrorData({ kind: 'not-available', message: 'm' }).kind, 'not-available');
});

test('decoders throw a clear error; strict mode also refuses unknown keys', () => {
  const row = { name: 'with-1', path: '/w/.envlayers/with-1', interpreter: '/w/.envlayers/with-1/bin/python', layers: ['k'], active: true, valid: true };
  assert.deepEqual(decodeComposition(row), row);
  assert.throws(() => decodeComposition({ ...row, valid: 'yes' }), (e: unknown) => e instanceof ProtocolError && e.message === 'composition.valid: expected a boolean, got string "yes"');
  assert.throws(() => RESULT_DECODERS['envlayers.listCompositions']([row, { ...row, layers: [3] }]), /envlayers\.listCompositions\[1\]\.layers\[0\]: expected a string, got number 3/);
  // Unknown keys: dropped by default (a newer server), refused when strict (the wire tests).
  assert.deepEqual(decodeComposition({ ...row, extra: 1 }), row);
  assert.throws(() => decodeComposition({ ...row, extra: 1 }, { strict: true }), /composition: unexpected key "extra"/);
  assert.throws(() => decodeReport({ ...sampleReport(), name: 3 }), /report\.name: expected a string or null/);
  assert.throws(() => decodeReport({ ...sampleReport(), schemaVersion: 2 }), /report\.schemaVersion: expected 1, got number 2/);
});
