import './shim/register';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import { UI_COMMANDS } from '../src/commands';
import { type EnvlayersApi, activateWith, deactivate } from '../src/extension';
import { ENVIRONMENT_CHANGED, SERVER_COMMANDS } from '../src/protocol';
import type { LaunchPlan } from '../src/server';
import { FakeConnection, WS, fakeContext, flush, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string; title: string; category: string }[]; configuration: { properties: Record<string, { description?: string; markdownDescription?: string }> } };
  main: string;
};

let connection: FakeConnection;
let plans: LaunchPlan[];

async function activate(): Promise<EnvlayersApi> {
  plans = [];
  const api = await activateWith(fakeContext(), {
    connect: async (plan) => {
      plans.push(plan);
      return connection;
    },
    probe: async (command) => ({ executable: command[0] ?? '', version: [3, 11, 7], hasEnvlayers: true }),
    pathPythons: () => [],
  });
  await api.ready;
  await flush();
  return api;
}

beforeEach(() => {
  resetShim();
  harness.addFolder(WS);
  harness.settings.set('envlayers.server.interpreter', ['/opt/py/bin/python']);
  connection = new FakeConnection({ 'envlayers.report': () => sampleReport() });
});

test('activation registers every contributed command exactly once, none of the server ids', async () => {
  await activate();
  const contributed: string[] = manifest.contributes.commands.map((c) => c.command).sort();
  const ours: string[] = Object.values(UI_COMMANDS).sort();
  assert.deepEqual(contributed, ours);
  for (const id of ours) assert.ok(harness.commands.has(id), `${id} registered`);
  for (const id of SERVER_COMMANDS) {
    assert.ok(!harness.commands.has(id), `${id} belongs to the server`);
    assert.ok(!contributed.includes(id));
  }
  // What vscode-languageclient does with the server's executeCommandProvider: must not clash.
  for (const id of SERVER_COMMANDS) harness.commands.set(id, () => undefined);
  assert.equal(new Set(harness.commands.keys()).size, ours.length + SERVER_COMMANDS.length);
  await deactivate();
});

test('a second registration of an id fails (the shim behaves like VS Code)', async () => {
  await activate();
  await assert.rejects(
    async () => activate(),
    /already exists/,
  );
  await deactivate();
});

test('palette titles sit under the "Env Layers" category and settings are documented', () => {
  for (const c of manifest.contributes.commands) {
    assert.equal(c.category, 'Env Layers');
    assert.ok(c.title.length > 0);
  }
  const titles = manifest.contributes.commands.map((c) => c.title);
  for (const t of ['Sync Workspace Environment', 'Add Layer (--with)…', 'Use Profile…', 'Show Composed Environment', 'Copy Interpreter Path', 'Copy PYTHONPATH', 'Install Jupyter Kernel', 'Prune Layer Cache', 'Restart Server']) {
    assert.ok(titles.includes(t), t);
  }
  for (const [key, prop] of Object.entries(manifest.contributes.configuration.properties)) {
    assert.ok((prop.description ?? prop.markdownDescription ?? '').length > 20, `${key} has a description`);
  }
  assert.equal(manifest.main, './dist/extension.js');
});

test('activation starts the server from the setting and seeds the status bar with the report', async () => {
  const api = await activate();
  assert.equal(plans.length, 1);
  assert.equal(plans[0]?.command, '/opt/py/bin/python');
  assert.deepEqual(plans[0]?.args, ['-m', 'envlayers', 'serve', '--stdio']);
  assert.equal(api.server.state, 'running');
  assert.deepEqual(connection.calls.map((c) => c.command), ['envlayers.report']);
  assert.deepEqual(connection.calls[0]?.arg, { workspace: WS });
  const item = harness.statusItems[0];
  assert.ok(item !== undefined && item.visible);
  assert.equal(item.text, '$(layers) base + 1 layer');
  await deactivate();
  assert.ok(connection.stopped);
});

test('environmentChanged notifications update the status bar', async () => {
  await activate();
  connection.notify(ENVIRONMENT_CHANGED, {
    workspace: WS,
    report: sampleReport({ sync: { state: 'out-of-sync', installed: [], removed: [], extraneous: [] } }),
  });
  const item = harness.statusItems[0];
  assert.equal(item?.text, '$(warning) base + 1 layer');
  assert.equal(item?.backgroundColor?.id, 'statusBarItem.warningBackground');
  await deactivate();
});

test('a server setting change restarts the server once (debounced); others do not', async () => {
  const api = await activate();
  harness.changeSettings({ 'envlayers.statusBar.enabled': false });
  assert.equal(harness.statusItems[0]?.visible, false);
  harness.changeSettings({ 'envlayers.server.verbose': true });
  harness.changeSettings({ 'envlayers.server.interpreter': ['/other/python'] });
  await new Promise((r) => setTimeout(r, 1000));
  await api.server.start();
  assert.equal(plans.length, 2, 'one restart for two quick changes');
  assert.deepEqual(plans[1], { command: '/other/python', args: ['-m', 'envlayers', 'serve', '--stdio', '-v'], source: 'setting' });
  await deactivate();
});
