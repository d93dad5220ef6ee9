import './shim/register';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ProtocolError,
  ServerError,
  decodeDebugConfiguration,
  decodeEnvironmentChanged,
  decodeLayerList,
  decodeReport,
  toServerError,
} from '../src/protocol';
import { sampleReport } from './helpers';

test('a SPEC report decodes to itself', () => {
  const report = sampleReport({
    conflicts: [{ name: 'a', version: '2', source: 'k1', shadows: [{ version: '1', source: 'workspace' }], breaks: ['b requires a<2'] }],
  });
  assert.deepEqual(decodeReport(JSON.parse(JSON.stringify(report))), report);
});

test('malformed reports are rejected with the offending field', () => {
  const good = JSON.parse(JSON.stringify(sampleReport())) as Record<string, unknown>;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, schemaVersion: 2 }, /schemaVersion/],
    [{ ...good, interpreter: 3 }, /report\.interpreter: expected a string/],
    [{ ...good, sysPath: 'x' }, /report\.sysPath/],
    [{ ...good, sync: { state: 'weird' } }, /sync\.state/],
    [{ ...good, layers: [{ key: 'k' }] }, /report\.layers\[0\]: missing "path"/],
  ];
  for (const [raw, pattern] of cases) assert.throws(() => decodeReport(raw), (e: unknown) => e instanceof ProtocolError && pattern.test(e.message));
  const noWorkspace = { ...good };
  delete noWorkspace['workspace'];
  assert.throws(() => decodeReport(noWorkspace), /missing "workspace"/);
  assert.throws(() => decodeReport(null), ProtocolError);
});

test('server errors are decoded from JSON-RPC errors', () => {
  const e = toServerError({ code: -32001, message: 'boom', data: { kind: 'invalid-input', message: 'invalid requirement "=="' } });
  assert.deepEqual([e.kind, e.message, e.code], ['invalid-input', 'invalid requirement "=="', -32001]);
  assert.equal(toServerError({ code: -32800, message: 'Request cancelled' }).kind, 'cancelled');
  assert.equal(toServerError({ code: -32603, message: 'internal' }).kind, 'unknown');
  assert.equal(toServerError(new Error('x')).message, 'x');
  const same = new ServerError('cancelled', 'c');
  assert.equal(toServerError(same), same);
});

test('other results decode too', () => {
  const dbg = decodeDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'n', python: '/p', env: { A: 'b' }, cwd: '/w', justMyCode: false, console: 'integratedTerminal' });
  assert.equal(dbg['justMyCode'], false);
  assert.throws(() => decodeDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'n', env: {} }), /python/);
  assert.deepEqual(decodeLayerList([{ key: 'k', path: '/p', requirements: ['a'], sizeBytes: 10, lastUsed: '2026-01-01', usedBy: ['/w'], valid: true }]), [
    { key: 'k', path: '/p', requirements: ['a'], sizeBytes: 10, lastUsed: '2026-01-01', usedBy: ['/w'], valid: true },
  ]);
  assert.equal(decodeEnvironmentChanged({ workspace: '/w', report: sampleReport() }).workspace, '/w');
});
