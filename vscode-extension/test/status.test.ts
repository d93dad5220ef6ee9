import './shim/register';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import { StatusBar, compositionName, describeStatus, summarize } from '../src/status';
import { WS, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

beforeEach(() => resetShim());

const conflict = { name: 'rich', version: '13.7.1', source: 'k1', shadows: [{ version: '12.0.0', source: 'workspace' }], breaks: ['oldlib 1.0 requires rich<13'] };

test('summaries count layers and name profiles', () => {
  assert.equal(summarize(sampleReport({ layers: [] })), 'base');
  assert.equal(summarize(sampleReport()), 'base + 1 layer');
  const two = sampleReport();
  assert.equal(summarize({ ...two, layers: [...two.layers, ...two.layers] }), 'base + 2 layers');
  const profile = sampleReport({ virtualEnv: path.join(WS, '.envlayers', 'notebook') });
  assert.equal(compositionName(profile), 'notebook');
  assert.equal(summarize(profile), 'notebook: base + 1 layer');
  assert.equal(compositionName(sampleReport({ virtualEnv: path.join(WS, '.venv') })), undefined);
});

test('status states: starting, failed, no report, in sync, out of sync, missing, conflict', () => {
  assert.match(describeStatus('starting', undefined).text, /sync~spin/);
  const failed = describeStatus('failed', undefined);
  assert.equal(failed.look, 'error');
  assert.equal(failed.command, 'envlayers.ui.restartServer');
  assert.equal(describeStatus('running', undefined).text, '$(layers) Env Layers');
  const ok = describeStatus('running', sampleReport());
  assert.deepEqual([ok.text, ok.look, ok.command], ['$(layers) base + 1 layer', 'normal', 'envlayers.ui.showReport']);
  assert.match(ok.tooltip, /Python 3\.11\.7/);
  const stale = describeStatus('running', sampleReport({ sync: { state: 'out-of-sync', installed: [], removed: [], extraneous: [] } }));
  assert.deepEqual([stale.text, stale.look], ['$(warning) base + 1 layer', 'warning']);
  assert.match(stale.tooltip, /out of sync/);
  const missing = describeStatus('running', sampleReport({ sync: { state: 'missing', installed: [], removed: [], extraneous: [] } }));
  assert.equal(missing.look, 'warning');
  const clash = describeStatus('running', sampleReport({ conflicts: [conflict] }));
  assert.equal(clash.look, 'warning');
  assert.match(clash.tooltip, /1 version conflict /);
});

test('the status bar item follows state and report, with theme colours and a click', () => {
  const bar = new StatusBar(true);
  const item = harness.statusItems[0];
  assert.ok(item !== undefined);
  const bg = (): string | undefined => item.backgroundColor?.id;
  assert.equal(item.id, 'envlayers.status');
  assert.ok(item.visible);
  bar.setState('running');
  bar.setReport(sampleReport({ conflicts: [conflict] }));
  assert.equal(bg(), 'statusBarItem.warningBackground');
  assert.equal(item.command, 'envlayers.ui.showReport');
  bar.setReport(sampleReport());
  assert.equal(bg(), undefined);
  assert.equal(item.text, '$(layers) base + 1 layer');
  bar.setState('failed');
  assert.equal(bg(), 'statusBarItem.errorBackground');
  bar.setEnabled(false);
  assert.equal(item.visible, false);
  bar.dispose();
  assert.ok(item.disposed);
});
