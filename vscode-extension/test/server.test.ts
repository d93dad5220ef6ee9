import './shim/register';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { ENVIRONMENT_CHANGED, ProtocolError, ServerError } from '../src/protocol';
import {
  type LaunchPlan,
  type Probe,
  type ProbeResult,
  NOT_RUNNING,
  ServerManager,
  bundledLauncher,
  planLaunch,
  probePython,
  pythonsOnPath,
  serverEnv,
} from '../src/server';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings';
import { FakeConnection, WS, flush, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

const REPO_PYTHON = path.resolve(__dirname, '..', '..', '..', '.venv', 'bin', 'python');

function fakeProbe(table: Record<string, ProbeResult | undefined>): Probe {
  return async (command) => table[command.join(' ')];
}

const withEnvlayers = (exe: string, minor = 11): ProbeResult => ({ executable: exe, version: [3, minor, 0], hasEnvlayers: true });
const plain = (exe: string, minor = 12): ProbeResult => ({ executable: exe, version: [3, minor, 0], hasEnvlayers: false });

function inputs(over: { settings?: Partial<Settings>; py?: string; bundled?: string; path?: string[]; probe: Probe }) {
  return {
    settings: { ...DEFAULT_SETTINGS, ...over.settings },
    pythonExtensionInterpreter: over.py,
    bundledLauncher: over.bundled,
    pathPythons: over.path ?? [],
    probe: over.probe,
  };
}

beforeEach(() => resetShim());

test('the setting wins when envlayers imports there', async () => {
  const { plan } = await planLaunch(
    inputs({ settings: { serverInterpreter: ['/s/python', '-X', 'utf8'], serverVerbose: true }, py: '/p/python', probe: fakeProbe({ '/s/python -X utf8': withEnvlayers('/s/python'), '/p/python': withEnvlayers('/p/python') }) }),
  );
  assert.deepEqual(plan, { command: '/s/python', args: ['-X', 'utf8', '-m', 'envlayers', 'serve', '--stdio', '-v'], source: 'setting' });
});

test("then the Python extension's interpreter, then the bundled server on a 3.11+ from PATH", async () => {
  const probe = fakeProbe({
    '/s/python': plain('/s/python'),
    '/p/python': withEnvlayers('/p/python', 12),
    '/old/python3': plain('/old/python3', 9),
    '/new/python3': plain('/new/python3.12', 12),
  });
  const a = await planLaunch(inputs({ settings: { serverInterpreter: ['/s/python'] }, py: '/p/python', probe }));
  assert.equal(a.plan?.source, 'python-extension');
  assert.deepEqual(a.notes, ['envlayers.server.interpreter (/s/python) cannot import envlayers']);

  const b = await planLaunch(inputs({ py: '/old/python3', bundled: '/ext/bundled/tool/server.py', path: ['/old/python3', '/new/python3'], probe }));
  assert.deepEqual(b.plan, { command: '/new/python3.12', args: ['/ext/bundled/tool/server.py', 'serve', '--stdio'], source: 'bundled' });
  assert.match(b.notes.join('\n'), /cannot import envlayers/);
});

test('none works: no plan, and notes that say why', async () => {
  const probe = fakeProbe({ '/p/python': withEnvlayers('/p/python', 10), '/old/python3': plain('/old/python3', 10) });
  const noBundle = await planLaunch(inputs({ py: '/p/python', probe }));
  assert.equal(noBundle.plan, undefined);
  assert.match(noBundle.notes.join('\n'), /Python 3\.10\.0, the server needs 3\.11\+/);
  assert.match(noBundle.notes.join('\n'), /no bundled server/);
  const noPython = await planLaunch(inputs({ bundled: '/b/server.py', path: ['/old/python3', '/missing'], probe }));
  assert.equal(noPython.plan, undefined);
  assert.match(noPython.notes.join('\n'), /no Python 3\.11 or newer on PATH/);
});

test('the real probe runs an interpreter without a shell', async () => {
  const found = await probePython([REPO_PYTHON]);
  assert.ok(found !== undefined);
  assert.equal(found.version[0], 3);
  assert.ok(found.version[1] >= 11);
  assert.equal(found.hasEnvlayers, true);
  assert.equal(await probePython(['/definitely/not/python']), undefined);
  assert.equal(await probePython([]), undefined);
});

test('pythonsOnPath lists executables in PATH order without duplicates', () => {
  const a = mkdtempSync(path.join(tmpdir(), 'envlayers-path-a-'));
  const b = mkdtempSync(path.join(tmpdir(), 'envlayers-path-b-'));
  for (const f of [path.join(a, 'python3'), path.join(b, 'python3'), path.join(b, 'python3.12')]) {
    writeFileSync(f, '#!/bin/sh\n');
    chmodSync(f, 0o755);
  }
  mkdirSync(path.join(a, 'python'));
  assert.deepEqual(pythonsOnPath([a, b, a, ''].join(path.delimiter)), [path.join(a, 'python3'), path.join(b, 'python3'), path.join(b, 'python3.12')]);
});

test('serverEnv drops PYTHONPATH and PYTHONHOME', () => {
  process.env['PYTHONPATH'] = '/x';
  try {
    assert.equal(serverEnv()['PYTHONPATH'], undefined);
    assert.equal(serverEnv()['PATH'], process.env['PATH']);
  } finally {
    delete process.env['PYTHONPATH'];
  }
});

test('bundledLauncher needs both the launcher and the libraries', () => {
  const ext = mkdtempSync(path.join(tmpdir(), 'envlayers-ext-'));
  assert.equal(bundledLauncher(ext), undefined);
  mkdirSync(path.join(ext, 'bundled', 'tool'), { recursive: true });
  writeFileSync(path.join(ext, 'bundled', 'tool', 'server.py'), '');
  assert.equal(bundledLauncher(ext), undefined);
  mkdirSync(path.join(ext, 'bundled', 'libs', 'envlayers'), { recursive: true });
  writeFileSync(path.join(ext, 'bundled', 'libs', 'envlayers', '__init__.py'), '');
  assert.equal(bundledLauncher(ext), path.join(ext, 'bundled', 'tool', 'server.py'));
});

function manager(connect: (plan: LaunchPlan) => Promise<FakeConnection>, probe: Probe = async (c) => withEnvlayers(c[0] ?? '')) {
  return new ServerManager({
    log: vscode.window.createOutputChannel('t', { log: true }),
    extensionPath: '/nonexistent',
    settings: () => ({ ...DEFAULT_SETTINGS, serverInterpreter: ['/s/python'] }),
    pythonInterpreter: async () => undefined,
    connect,
    hooks: { allowCommand: async () => true, serverSettings: (raw) => raw as Record<string, unknown> },
    probe,
    pathPythons: () => [],
    restartDelayMs: 20,
  });
}

test('execute decodes results, maps errors, and refuses when not running', async () => {
  const conn = new FakeConnection({
    'envlayers.compose': () => sampleReport(),
    'envlayers.sync': () => Promise.reject({ code: -32002, message: 'x', data: { kind: 'install-failed', message: 'pip exited 1 for nope==9' } }),
    'envlayers.report': () => ({ schemaVersion: 1 }),
  });
  const m = manager(async () => conn);
  await assert.rejects(() => m.execute('envlayers.report', { workspace: WS }), (e: unknown) => e instanceof ServerError && e.message === NOT_RUNNING);
  await m.start();
  assert.equal(m.state, 'running');
  assert.deepEqual(await m.execute('envlayers.compose', { workspace: WS, with: ['rich'] }), sampleReport());
  assert.deepEqual(conn.calls.at(-1), { command: 'envlayers.compose', arg: { workspace: WS, with: ['rich'] } });
  await assert.rejects(() => m.execute('envlayers.sync', { workspace: WS }), (e: unknown) => e instanceof ServerError && e.kind === 'install-failed' && /nope==9/.test(e.message));
  await assert.rejects(() => m.execute('envlayers.report', { workspace: WS }), ProtocolError);
  await m.stop();
  assert.ok(conn.stopped);
  assert.equal(m.state, 'stopped');
});

test('notifications are decoded; malformed ones are logged and ignored', async () => {
  const conn = new FakeConnection();
  const m = manager(async () => conn);
  const seen: string[] = [];
  m.onEnvironmentChanged((e) => seen.push(e.report?.interpreter ?? 'none'));
  await m.start();
  conn.notify(ENVIRONMENT_CHANGED, { workspace: WS, report: sampleReport() });
  conn.notify(ENVIRONMENT_CHANGED, { workspace: WS, report: { nope: 1 } });
  conn.notify(ENVIRONMENT_CHANGED, { workspace: WS, report: null });
  assert.deepEqual(seen, [sampleReport().interpreter, 'none']);
  m.dispose();
});

test('a failed start explains itself with an "Open Settings" action', async () => {
  harness.answer('Open Settings');
  const m = manager(async () => new FakeConnection(), async () => undefined);
  const states: string[] = [];
  m.onDidChangeState((s) => states.push(s));
  await m.start();
  await flush();
  assert.deepEqual(states, ['starting', 'failed']);
  const shown = harness.shown[0];
  assert.equal(shown?.level, 'error');
  assert.match(shown?.message ?? '', /could not start its server/);
  assert.deepEqual(shown?.items, ['Open Settings', 'Show Log']);
  assert.deepEqual(harness.executed.at(-1), { id: 'workbench.action.openSettings', args: ['envlayers.server'] });

  const crashing = manager(async () => {
    throw new Error('spawn ENOENT');
  });
  await crashing.start();
  assert.equal(crashing.state, 'failed');
});

test('restarts are debounced and serialized', async () => {
  let n = 0;
  const conns: FakeConnection[] = [];
  const m = manager(async () => {
    n += 1;
    const c = new FakeConnection();
    conns.push(c);
    return c;
  });
  await m.start();
  await m.start();
  assert.equal(n, 1, 'start is idempotent');
  m.scheduleRestart();
  m.scheduleRestart();
  m.scheduleRestart();
  await new Promise((r) => setTimeout(r, 100));
  await m.start();
  assert.equal(n, 2);
  assert.ok(conns[0]?.stopped);
  assert.equal(conns[1]?.stopped, false);
  m.dispose();
});
