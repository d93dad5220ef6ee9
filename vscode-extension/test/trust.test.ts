import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { Commands, type CommandDeps } from '../src/commands';
import type { ArgsOf, ResultOf, ServerCommand } from '../src/protocol';
import { DEFAULT_SETTINGS } from '../src/settings';
import { ReportStore } from '../src/state';
import { MANAGE_TRUST, TrustGate, untrustedMessage } from '../src/trust';
import { WS, memento, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

let calls: string[];

function commands(): Commands {
  calls = [];
  const deps: CommandDeps = {
    async execute<K extends ServerCommand>(command: K, _args: ArgsOf<K>): Promise<ResultOf<K>> {
      calls.push(command);
      return sampleReport() as ResultOf<K>;
    },
    store: new ReportStore(),
    trust: new TrustGate(),
    settings: () => ({ ...DEFAULT_SETTINGS, setInterpreter: 'never' }),
    memento: memento(),
    log: vscode.window.createOutputChannel('t', { log: true }),
    python: { activeInterpreter: async () => undefined, setActiveInterpreter: async () => false },
    folder: () => ({ uri: vscode.Uri.file(WS), name: 'project', index: 0 }),
    showReport: async () => undefined,
    restartServer: async () => undefined,
  };
  return new Commands(deps);
}

beforeEach(() => {
  resetShim();
  harness.trusted = false;
});

test('in an untrusted workspace sync, compose and kernel installation do not reach the server', async () => {
  const c = commands();
  harness.answer('rich');
  assert.equal(await c.sync(), undefined);
  assert.equal(await c.addLayer(), undefined);
  assert.equal(await c.useProfile(), undefined);
  assert.equal(await c.removeLayers(), undefined);
  assert.equal(await c.installKernel(), undefined);
  assert.deepEqual(calls, []);
  assert.equal(harness.shown.length, 5);
  for (const s of harness.shown) {
    assert.equal(s.level, 'warning');
    assert.match(s.message, /Restricted Mode/);
    assert.match(s.message, /build backends/);
    assert.deepEqual(s.items, [MANAGE_TRUST]);
  }
});

test('reading the report works without trust', async () => {
  const c = commands();
  assert.equal(await c.interpreterPath(), sampleReport().interpreter);
  await c.showReport();
  assert.deepEqual(calls, ['envlayers.report']);
  assert.equal(harness.shown.length, 0);
});

test('the explanation offers to manage trust, and granting trust enables the commands', async () => {
  const c = commands();
  harness.answer(MANAGE_TRUST);
  await c.sync();
  assert.ok(harness.executed.some((e) => e.id === 'workbench.trust.manage'));
  let granted = false;
  new TrustGate().onDidGrant(() => (granted = true));
  harness.grantTrust();
  assert.ok(granted);
  await c.sync();
  assert.deepEqual(calls, ['envlayers.sync']);
  assert.match(untrustedMessage('Syncing'), /^Env Layers: Syncing is disabled/);
});

test('server commands run by VS Code directly (quick fixes) are gated the same way', async () => {
  const gate = new TrustGate();
  assert.equal(await gate.allowServerCommand('envlayers.report'), true);
  assert.equal(await gate.allowServerCommand('envlayers.sync'), false);
  assert.match(harness.shown[0]?.message ?? '', /Syncing the workspace environment is disabled/);
  harness.grantTrust();
  assert.equal(await gate.allowServerCommand('envlayers.compose'), true);
});
