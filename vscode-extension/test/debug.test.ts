import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import {
  DYNAMIC_CONFIGURATION_NAME,
  EnvlayersDebugProvider,
  dynamicConfiguration,
  mergeDebugConfiguration,
  registerDebugProvider,
} from '../src/debug';
import type { ServerDebugConfiguration } from '../src/protocol';
import { ServerError } from '../src/protocol';
import { WS, resetShim } from './helpers';
import { harness } from './shim/vscode';

const server: ServerDebugConfiguration = {
  type: 'debugpy',
  request: 'launch',
  name: 'Python: envlayers (with-1)',
  python: '/ws/.envlayers/with-1/bin/python',
  env: { VIRTUAL_ENV: '/ws/.envlayers/with-1', PATH: '/ws/.envlayers/with-1/bin:/usr/bin' },
  cwd: WS,
  justMyCode: true,
  console: 'integratedTerminal',
};

const folder = { uri: vscode.Uri.file(WS), name: 'project', index: 0 } as vscode.WorkspaceFolder;

function provider(errors: unknown[] = [], calls: unknown[] = []): EnvlayersDebugProvider {
  return new EnvlayersDebugProvider(
    async (f) => {
      calls.push(f?.uri.fsPath);
      return server;
    },
    (e) => errors.push(e),
  );
}

beforeEach(() => resetShim());

test('configurations without "envlayers": true are left exactly as they are', async () => {
  const calls: unknown[] = [];
  const config = { type: 'debugpy', request: 'launch', name: 'x', program: 'a.py' };
  const resolved = await provider([], calls).resolveDebugConfiguration(folder, config);
  assert.equal(resolved, config);
  assert.deepEqual(resolved, { type: 'debugpy', request: 'launch', name: 'x', program: 'a.py' });
  const off = { ...config, envlayers: false };
  assert.deepEqual(await provider([], calls).resolveDebugConfiguration(folder, off), off);
  assert.deepEqual(calls, [], 'the server is not asked');
});

test('"envlayers": true fills python, env and cwd from the server', async () => {
  const calls: unknown[] = [];
  const config = { type: 'debugpy', request: 'launch', name: 'x', program: 'a.py', envlayers: true };
  const resolved = await provider([], calls).resolveDebugConfiguration(folder, config);
  assert.deepEqual(resolved, { ...config, python: server.python, env: server.env, cwd: WS });
  assert.deepEqual(calls, [WS]);
});

test('explicit python, env entries and cwd are kept', () => {
  const config = {
    type: 'debugpy',
    request: 'launch',
    name: 'x',
    envlayers: true,
    python: '/my/python',
    env: { PATH: '/mine', DEBUG: '1' },
    cwd: '/elsewhere',
  };
  const merged = mergeDebugConfiguration(config, server);
  assert.equal(merged['python'], '/my/python');
  assert.deepEqual(merged['env'], { VIRTUAL_ENV: server.env['VIRTUAL_ENV'], PATH: '/mine', DEBUG: '1' });
  assert.equal(merged['cwd'], '/elsewhere');
  assert.equal(mergeDebugConfiguration({ ...config, python: ['/py', '-X', 'dev'] }, server)['python'][0], '/py');
  assert.equal(mergeDebugConfiguration({ ...config, python: '' }, server)['python'], server.python);
});

test('a server failure aborts the launch and is reported', async () => {
  const errors: unknown[] = [];
  const p = new EnvlayersDebugProvider(
    async () => {
      throw new ServerError('interpreter-not-found', 'no Python 3.12');
    },
    (e) => errors.push(e),
  );
  const resolved = await p.resolveDebugConfiguration(folder, { type: 'debugpy', request: 'launch', name: 'x', envlayers: true });
  assert.equal(resolved, undefined);
  assert.equal((errors[0] as ServerError).message, 'no Python 3.12');
});

test('the dynamic "current file" configuration is offered and registered for debugpy', () => {
  assert.deepEqual(provider().provideDebugConfigurations(), [dynamicConfiguration()]);
  assert.equal(dynamicConfiguration()['name'], DYNAMIC_CONFIGURATION_NAME);
  assert.equal(dynamicConfiguration()['envlayers'], true);
  assert.equal(dynamicConfiguration()['program'], '${file}');
  registerDebugProvider(provider());
  assert.deepEqual(
    harness.debugProviders.map((d) => [d.type, d.trigger, typeof d.provider.provideDebugConfigurations, typeof d.provider.resolveDebugConfiguration]),
    [
      ['debugpy', vscode.DebugConfigurationProviderTriggerKind.Initial, 'undefined', 'function'],
      ['debugpy', vscode.DebugConfigurationProviderTriggerKind.Dynamic, 'function', 'undefined'],
    ],
  );
});
