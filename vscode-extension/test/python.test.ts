// The Python Environments bridge lists the compositions the server lists: the extension no
// longer reads `.envlayers/*/pyvenv.cfg` (which also listed half-built `.tmp-*` folders).
import './shim/register';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import type { Composition } from '../src/protocol';
import { PYTHON_ENVS_EXTENSION, registerEnvironmentManager } from '../src/python';
import { ReportStore } from '../src/state';
import { resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

beforeEach(() => resetShim());

test('the environment manager lists the valid compositions the server reports', async () => {
  const ws = mkdtempSync(path.join(tmpdir(), 'envlayers-envs-'));
  // What the old code listed: a build folder with a pyvenv.cfg. The server never lists it.
  mkdirSync(path.join(ws, '.envlayers', '.tmp-123'), { recursive: true });
  writeFileSync(path.join(ws, '.envlayers', '.tmp-123', 'pyvenv.cfg'), 'version = 3.11.7\n');
  harness.addFolder(ws);
  const rows: Composition[] = [
    { name: 'notebook', path: path.join(ws, '.envlayers', 'notebook'), interpreter: path.join(ws, '.envlayers', 'notebook', 'bin', 'python'), layers: ['k1'], active: true, valid: true },
    { name: 'broken', path: path.join(ws, '.envlayers', 'broken'), interpreter: path.join(ws, '.envlayers', 'broken', 'bin', 'python'), layers: [], active: false, valid: false },
  ];
  const asked: string[] = [];
  let manager: any;
  harness.extensions.set(PYTHON_ENVS_EXTENSION, {
    isActive: true,
    exports: {
      registerEnvironmentManager: (m: unknown) => {
        manager = m;
        return new vscode.Disposable(() => undefined);
      },
      createPythonEnvironmentItem: (info: Record<string, unknown>) => ({ ...info, envId: { id: String(info['name']), managerId: 'envlayers' } }),
    },
  });
  const store = new ReportStore();
  store.set(sampleReport({ workspace: ws }));
  const log = vscode.window.createOutputChannel('test', { log: true });
  const registration = await registerEnvironmentManager(store, log, async (folder) => {
    asked.push(folder);
    return rows;
  });
  assert.ok(registration !== undefined && manager !== undefined);
  const envs = await manager.getEnvironments('all');
  assert.deepEqual(asked, [ws]);
  assert.deepEqual(
    envs.map((e: any) => [e.name, e.sysPrefix, e.execInfo.run.executable, e.version, e.description]),
    [['notebook', rows[0]?.path, rows[0]?.interpreter, '3.11.7', `${path.basename(ws)} (active)`]],
  );
  const resolved = await manager.resolve(vscode.Uri.file(rows[0]?.interpreter ?? ''));
  assert.equal(resolved?.name, 'notebook');
  // A server that fails (or is too old for the command) means no environments, not a crash.
  const failing = await registerEnvironmentManager(store, log, async () => {
    throw new Error('no handler for envlayers.listCompositions');
  });
  assert.ok(failing !== undefined);
  assert.deepEqual(await manager.getEnvironments('all'), []);
  assert.match((harness.channels.at(-1)?.lines ?? []).join('\n'), /Could not list the compositions/);
});
