// Checks a built .vsix (set ENVLAYERS_TEST_VSIX=<path>): it holds the bundled extension, the
// server and its libraries, and the bundled server answers `initialize` from those libraries
// under a Python that has no envlayers of its own, chosen the way the extension chooses it.
import './shim/register';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import {
  ExitNotification,
  InitializeRequest,
  type InitializeResult,
  ShutdownRequest,
  createProtocolConnection,
} from 'vscode-languageserver-protocol';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { planLaunch, probePython, pythonsOnPath, serverEnv } from '../src/server';
import { DEFAULT_SETTINGS } from '../src/settings';

const VSIX = process.env['ENVLAYERS_TEST_VSIX'];
const skip = VSIX === undefined || VSIX === '' ? 'set ENVLAYERS_TEST_VSIX=<path to .vsix> to check a package (make vsix does)' : false;
const REPO_PYTHON = path.resolve(__dirname, '..', '..', '..', '.venv', 'bin', 'python');

test('the .vsix holds the extension, the server and its libraries, and the server starts', { skip, timeout: 120_000 }, async () => {
  const vsix = path.resolve(VSIX ?? '');
  // The stdlib's zipfile CLI reads the archive: no zip library needed.
  const listing = execFileSync(REPO_PYTHON, ['-m', 'zipfile', '-l', vsix], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const names = listing.split('\n').map((line) => line.split(/\s{2,}/)[0]?.trim() ?? '');
  for (const wanted of ['extension/dist/extension.js', 'extension/bundled/libs/envlayers/__init__.py', 'extension/bundled/tool/server.py', 'extension/package.json', 'extension/readme.md', 'extension/images/report-view.png']) {
    assert.ok(names.includes(wanted), `${wanted} in the package`);
  }
  for (const lib of ['pygls/', 'lsprotocol/', 'packaging/', 'virtualenv/', 'filelock/', 'platformdirs/']) {
    assert.ok(names.some((n) => n.startsWith(`extension/bundled/libs/${lib}`)), `${lib} bundled`);
  }
  for (const n of names) {
    assert.ok(!n.startsWith('extension/src/') && !n.startsWith('extension/test/') && !n.startsWith('extension/node_modules/'), `${n} should not ship`);
  }

  const dir = mkdtempSync(path.join(tmpdir(), 'envlayers-vsix-'));
  execFileSync(REPO_PYTHON, ['-m', 'zipfile', '-e', vsix, dir]);
  const launcher = path.join(dir, 'extension', 'bundled', 'tool', 'server.py');
  const { plan, notes } = await planLaunch({
    settings: DEFAULT_SETTINGS,
    pythonExtensionInterpreter: undefined,
    bundledLauncher: launcher,
    pathPythons: pythonsOnPath(),
    probe: probePython,
  });
  assert.ok(plan !== undefined, `no Python 3.11+ on PATH: ${notes.join('; ')}`);
  assert.equal(plan.source, 'bundled');

  // envlayers must come from the bundle, not from wherever that Python finds it.
  const libs = path.join(dir, 'extension', 'bundled', 'libs');
  const origin = execFileSync(
    plan.command,
    ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import envlayers; print(envlayers.__file__)', libs],
    { encoding: 'utf8', env: serverEnv() },
  );
  assert.ok(origin.trim().startsWith(path.join(dir, 'extension', 'bundled', 'libs')), origin);

  // The esbuild bundle loads (vscode is its only external) and exports the entry points.
  const bundle = require(path.join(dir, 'extension', 'dist', 'extension.js')) as Record<string, unknown>;
  assert.equal(typeof bundle['activate'], 'function');
  assert.equal(typeof bundle['deactivate'], 'function');

  const child = spawn(plan.command, [...plan.args], { env: serverEnv(), stdio: ['pipe', 'pipe', 'pipe'], cwd: dir });
  const stderr: string[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c.toString()));
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.onNotification('window/logMessage', () => undefined);
  connection.listen();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const result: InitializeResult = await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(dir).href,
      workspaceFolders: null,
      capabilities: {},
    });
    assert.equal(result.serverInfo?.name, 'envlayers', stderr.join(''));
    assert.ok(result.capabilities.executeCommandProvider?.commands.includes('envlayers.compose'));
    await connection.sendRequest(ShutdownRequest.type);
    await connection.sendNotification(ExitNotification.type);
    assert.equal(await exited, 0);
  } finally {
    child.kill();
    connection.dispose();
  }
});
