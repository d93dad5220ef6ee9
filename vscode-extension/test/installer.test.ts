// uv when it can: the extension finds a uv the server's Python may not have, hands it over as
// ENVLAYERS_UV, and says which installer is in use (output channel and status bar tooltip).
import './shim/register';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { UV_ENV, chooseInstaller, findUv } from '../src/installer';
import { type LaunchPlan, ServerManager } from '../src/server';
import { DEFAULT_SETTINGS } from '../src/settings';
import { describeStatus } from '../src/status';
import { FakeConnection, flush, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

function binDir(root: string, names: string[]): string {
  const dir = path.join(root, 'bin');
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    writeFileSync(path.join(dir, name), '#!/bin/sh\n');
    chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

beforeEach(() => resetShim());

test('uv is looked for on PATH, next to the selected interpreter, then in the server environment', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'envlayers-uv-'));
  const onPath = binDir(path.join(tmp, 'path'), ['uv']);
  const selected = binDir(path.join(tmp, 'selected'), ['python', 'uv']);
  const serverEnvDir = binDir(path.join(tmp, 'server'), ['python3', 'uv']);
  const bare = binDir(path.join(tmp, 'bare'), ['python3']);
  const notExecutable = path.join(tmp, 'plain-uv');
  writeFileSync(notExecutable, '');
  const base = { setting: 'auto', platform: 'linux' as const };
  const env = (PATH: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH, ...extra });

  assert.deepEqual(findUv({ ...base, env: env(`${bare}:${onPath}`), selectedInterpreter: path.join(selected, 'python'), serverPython: path.join(serverEnvDir, 'python3') }), {
    uv: path.join(onPath, 'uv'),
    source: 'PATH',
  });
  assert.deepEqual(findUv({ ...base, env: env(bare), selectedInterpreter: path.join(selected, 'python'), serverPython: path.join(serverEnvDir, 'python3') }), {
    uv: path.join(selected, 'uv'),
    source: 'selected interpreter',
  });
  assert.deepEqual(findUv({ ...base, env: env(bare), selectedInterpreter: undefined, serverPython: path.join(serverEnvDir, 'python3') }), {
    uv: path.join(serverEnvDir, 'uv'),
    source: 'server environment',
  });
  assert.equal(findUv({ ...base, env: env(bare), selectedInterpreter: 'python3', serverPython: path.join(bare, 'python3') }), undefined);
  // An explicit ENVLAYERS_UV is passed on; one that is not executable is not.
  assert.equal(findUv({ ...base, env: env(bare, { [UV_ENV]: path.join(selected, 'uv') }), selectedInterpreter: undefined, serverPython: undefined })?.source, 'ENVLAYERS_UV');
  assert.equal(findUv({ ...base, env: env(bare, { [UV_ENV]: notExecutable }), selectedInterpreter: undefined, serverPython: undefined }), undefined);

  const uv = chooseInstaller({ ...base, env: env(bare), selectedInterpreter: undefined, serverPython: path.join(serverEnvDir, 'python3') });
  assert.equal(uv.name, 'uv');
  assert.match(uv.summary, /^Installer: uv \(.*server\/bin\/uv, from the server environment\)/);
  const pip = chooseInstaller({ ...base, env: env(bare), selectedInterpreter: undefined, serverPython: path.join(bare, 'python3') });
  assert.deepEqual([pip.name, pip.uv], ['pip', undefined]);
  assert.match(pip.summary, /^Installer: pip \(no uv on PATH/);
  const chosenPip = chooseInstaller({ ...base, setting: 'pip', env: env(onPath), selectedInterpreter: undefined, serverPython: undefined });
  assert.deepEqual([chosenPip.name, chosenPip.uv], ['pip', undefined]);
});

test('the server gets ENVLAYERS_UV and the installer is in the output and the status tooltip', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'envlayers-uv-'));
  const serverDir = binDir(path.join(tmp, 'venv'), ['python', 'uv']);
  const python = path.join(serverDir, 'python');
  const conn = new FakeConnection();
  const seen: Readonly<Record<string, string>>[] = [];
  const log = vscode.window.createOutputChannel('Env Layers', { log: true });
  const m = new ServerManager({
    log,
    extensionPath: '/nonexistent',
    settings: () => ({ ...DEFAULT_SETTINGS, serverInterpreter: [python] }),
    pythonInterpreter: async () => undefined,
    connect: async (_plan: LaunchPlan, _log, _hooks, extraEnv) => {
      seen.push(extraEnv);
      return conn;
    },
    hooks: { allowCommand: async () => true, serverSettings: () => ({}) },
    probe: async (c) => ({ executable: c[0] ?? '', version: [3, 12, 0], hasEnvlayers: true }),
    pathPythons: () => [],
    environment: { PATH: path.join(tmp, 'nothing-here') },
  });
  await m.start();
  await flush();
  assert.deepEqual(seen, [{ [UV_ENV]: path.join(serverDir, 'uv') }]);
  assert.equal(m.installer?.name, 'uv');
  assert.ok(harness.channels[0]?.lines.some((l) => l.startsWith('[info] Installer: uv (')), harness.channels[0]?.lines.join('\n'));
  const tooltip = describeStatus('running', sampleReport(), m.installer?.summary).tooltip;
  assert.match(tooltip, /\nInstaller: uv \(.*venv\/bin\/uv, from the server environment\)[^\n]*\nClick to show the composed environment\.$/);
  m.dispose();
});
