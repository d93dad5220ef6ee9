import './shim/register';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import {
  Commands,
  type CommandDeps,
  RECENT_LAYERS_KEY,
  UI_COMMANDS,
  formatBytes,
  rememberRecent,
  describeProfile,
  splitRequirements,
} from '../src/commands';
import { type ArgsOf, type ResultOf, type ServerCommand, ServerError } from '../src/protocol';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings';
import { ReportStore } from '../src/state';
import { TrustGate } from '../src/trust';
import { WS, memento, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

interface Rig {
  commands: Commands;
  calls: { command: string; args: unknown }[];
  store: ReportStore;
  setInterpreterCalls: string[];
  memento: vscode.Memento;
  shown: string[];
}

function rig(
  opts: {
    settings?: Partial<Settings>;
    active?: string;
    folder?: string;
    results?: Partial<Record<ServerCommand, (args: any) => unknown>>;
  } = {},
): Rig {
  const calls: { command: string; args: unknown }[] = [];
  const store = new ReportStore();
  const setInterpreterCalls: string[] = [];
  const shownReports: string[] = [];
  const m = memento();
  const folder = opts.folder ?? WS;
  const deps: CommandDeps = {
    async execute<K extends ServerCommand>(command: K, args: ArgsOf<K>): Promise<ResultOf<K>> {
      calls.push({ command, args });
      const handler = opts.results?.[command];
      if (handler !== undefined) return (await handler(args)) as ResultOf<K>;
      if (command === 'envlayers.debugConfiguration') throw new Error('unexpected');
      return sampleReport() as ResultOf<K>;
    },
    store,
    trust: new TrustGate(),
    settings: () => ({ ...DEFAULT_SETTINGS, ...opts.settings }),
    memento: m,
    log: vscode.window.createOutputChannel('test', { log: true }),
    python: {
      activeInterpreter: async () => opts.active,
      setActiveInterpreter: async (interpreter) => {
        setInterpreterCalls.push(interpreter);
        return true;
      },
    },
    folder: () => ({ uri: vscode.Uri.file(folder), name: path.basename(folder), index: 0 }),
    showReport: async (f) => {
      shownReports.push(f);
    },
    restartServer: async () => undefined,
  };
  return { commands: new Commands(deps), calls, store, setInterpreterCalls, memento: m, shown: shownReports };
}

beforeEach(() => {
  resetShim();
});

test('splitRequirements keeps specifiers and markers with their requirement', () => {
  const cases: [string, string[]][] = [
    ['rich', ['rich']],
    ['rich pandas>=2', ['rich', 'pandas>=2']],
    ['  rich   pandas >= 2  httpx ', ['rich', 'pandas >= 2', 'httpx']],
    ['foo[bar]>=1,<2 baz', ['foo[bar]>=1,<2', 'baz']],
    ['foo >=1, <2 baz', ['foo >=1, <2', 'baz']],
    ['./wheels/a-1.0-py3-none-any.whl', ['./wheels/a-1.0-py3-none-any.whl']],
    ['pkg @ https://x/y.whl other', ['pkg @ https://x/y.whl', 'other']],
    ['rich; python_version < "3.12"', ['rich; python_version < "3.12"']],
    ['', []],
  ];
  for (const [input, expected] of cases) assert.deepEqual(splitRequirements(input), expected, input);
});

test('describeProfile shows what a profile layers', () => {
  assert.equal(describeProfile({ name: 'nb', with: ['jupyterlab', 'rich>=13'], withRequirements: ['/w/req.txt'], withEditable: ['/w/lib'] }), 'jupyterlab rich>=13 -r /w/req.txt -e /w/lib');
  assert.equal(describeProfile({ name: 'empty', with: [], withRequirements: [], withEditable: [] }), '');
});

test('rememberRecent and formatBytes', () => {
  assert.deepEqual(rememberRecent(['a', 'b', 'c'], 'b', 3), ['b', 'a', 'c']);
  assert.deepEqual(rememberRecent(['a', 'b', 'c'], 'd', 3), ['d', 'a', 'b']);
  assert.deepEqual(rememberRecent([], 'x', 0), []);
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GB');
});

test('${command:} helpers return strings from the report', async () => {
  const r = rig();
  const interpreter = await r.commands.interpreterPath();
  const pythonPath = await r.commands.pythonPath();
  assert.equal(typeof interpreter, 'string');
  assert.equal(interpreter, sampleReport().interpreter);
  assert.equal(pythonPath, sampleReport().pythonPath);
  // The report is fetched once and then served from the store.
  assert.deepEqual(r.calls.map((c) => c.command), ['envlayers.report']);
});

test('${command:} helpers fail (so the launch stops) when there is no report', async () => {
  const r = rig({ results: { 'envlayers.report': () => Promise.reject(new ServerError('interpreter-not-found', 'no python')) } });
  await assert.rejects(() => r.commands.interpreterPath(), /no python/);
});

test('the registered commands reach their handlers', async () => {
  const r = rig();
  const disposables = r.commands.register();
  assert.equal(disposables.length, Object.keys(UI_COMMANDS).length);
  const value = await vscode.commands.executeCommand<string>(UI_COMMANDS.interpreterPath, { type: 'debugpy' });
  assert.equal(value, sampleReport().interpreter);
  await vscode.commands.executeCommand(UI_COMMANDS.copyPythonPath);
  assert.equal(harness.clipboard, sampleReport().pythonPath);
  await vscode.commands.executeCommand(UI_COMMANDS.copyInterpreterPath);
  assert.equal(harness.clipboard, sampleReport().interpreter);
  for (const d of disposables) d.dispose();
});

test('Add Layer composes the entered requirements, remembers them, and offers the interpreter', async () => {
  const r = rig({ active: '/usr/bin/python3' });
  harness.answer('rich pandas>=2', 'Use It');
  const report = await r.commands.addLayer();
  assert.ok(report !== undefined);
  assert.deepEqual(r.calls, [{ command: 'envlayers.compose', args: { workspace: WS, with: ['rich', 'pandas>=2'] } }]);
  assert.deepEqual(r.memento.get(RECENT_LAYERS_KEY), ['rich pandas>=2']);
  assert.deepEqual(r.setInterpreterCalls, [sampleReport().interpreter]);
  const offer = harness.shown.find((s) => s.items.includes('Use It'));
  assert.match(offer?.message ?? '', /base \+ 1 layer/);
  assert.equal(r.store.get(WS)?.interpreter, sampleReport().interpreter);
  // Second time: the recent stack is offered first.
  let offered: unknown[] = [];
  harness.answer((p: { items?: unknown[] }) => {
    offered = p.items ?? [];
    return 'rich pandas>=2';
  }, 'Not Now');
  await r.commands.addLayer();
  assert.equal(offered[1], 'rich pandas>=2');
  assert.deepEqual(r.calls[1]?.args, { workspace: WS, with: ['rich', 'pandas>=2'] });
  assert.equal(r.setInterpreterCalls.length, 1, '"Not Now" leaves the interpreter alone');
});

test('setInterpreter: never does nothing, always sets without asking, same interpreter is not re-set', async () => {
  const never = rig({ settings: { setInterpreter: 'never' } });
  assert.equal(await never.commands.offerInterpreter(sampleReport(), WS), false);
  assert.deepEqual(never.setInterpreterCalls, []);

  const always = rig({ settings: { setInterpreter: 'always' } });
  assert.equal(await always.commands.offerInterpreter(sampleReport(), WS), true);
  assert.deepEqual(always.setInterpreterCalls, [sampleReport().interpreter]);
  assert.equal(harness.shown.length, 0, 'no question asked');

  const same = rig({ active: sampleReport().interpreter });
  assert.equal(await same.commands.offerInterpreter(sampleReport(), WS), false);

  const ask = rig();
  harness.answer('Always');
  assert.equal(await ask.commands.offerInterpreter(sampleReport(), WS), true);
  assert.deepEqual(harness.settingUpdates, [{ key: 'envlayers.setInterpreter', value: 'always', target: vscode.ConfigurationTarget.Workspace }]);
});

test('Use Profile offers the profiles the server lists and composes the chosen one', async () => {
  // No pyproject.toml on disk: the extension never parses it, the server does.
  const dir = mkdtempSync(path.join(tmpdir(), 'envlayers-profiles-'));
  const profiles = [
    { name: 'notebook', with: ['ipykernel'], withRequirements: [], withEditable: [] },
    { name: 'docs', with: ['mkdocs'], withRequirements: [], withEditable: [] },
  ];
  const r = rig({ folder: dir, settings: { setInterpreter: 'never' }, results: { 'envlayers.listProfiles': () => profiles } });
  let items: unknown[] = [];
  harness.answer((p: { items?: { label: string }[] }) => {
    items = p.items ?? [];
    return p.items?.[1];
  });
  await r.commands.useProfile();
  assert.deepEqual(items, [
    { label: 'notebook', description: 'ipykernel' },
    { label: 'docs', description: 'mkdocs' },
  ]);
  assert.deepEqual(r.calls, [
    { command: 'envlayers.listProfiles', args: { workspace: dir } },
    { command: 'envlayers.compose', args: { workspace: dir, profile: 'docs' } },
  ]);
  // None declared: a message, no compose.
  harness.shown.length = 0;
  const none = rig({ folder: dir, results: { 'envlayers.listProfiles': () => [] } });
  assert.equal(await none.commands.useProfile(), undefined);
  assert.match(harness.shown[0]?.message ?? '', /declares no profiles/);
  assert.deepEqual(none.calls.map((c) => c.command), ['envlayers.listProfiles']);
});

test('Remove Layers composes the base alone without syncing', async () => {
  const r = rig({ settings: { setInterpreter: 'never' } });
  await r.commands.removeLayers();
  assert.deepEqual(r.calls, [{ command: 'envlayers.compose', args: { workspace: WS, noSync: true } }]);
});

test('Install Jupyter Kernel tells the user the kernel name', async () => {
  const r = rig({
    results: {
      'envlayers.installKernel': () => ({ name: 'envlayers-project', path: '/k', argv: ['/py', '-m', 'ipykernel_launcher', '-f', '{connection_file}'], interpreter: '/py' }),
    },
  });
  assert.equal(await r.commands.installKernel(), 'envlayers-project');
  assert.match(harness.shown.at(-1)?.message ?? '', /"envlayers-project"/);
});

test('Prune Layer Cache passes the chosen age and reports what was freed', async () => {
  const r = rig({ results: { 'envlayers.pruneLayers': () => ({ removed: ['a', 'b'], freedBytes: 3 * 1024 * 1024 }) } });
  harness.answer((p: { items?: { label: string }[] }) => p.items?.[1]);
  await r.commands.pruneLayers();
  assert.deepEqual(r.calls, [{ command: 'envlayers.pruneLayers', args: { workspace: WS, olderThanDays: 7 } }]);
  assert.match(harness.shown.at(-1)?.message ?? '', /removed 2 layers, freed 3.0 MB/);
});

test('server errors are shown once; cancellations are not errors', async () => {
  // ServerManager.execute turns JSON-RPC rejections into ServerError (tested in server.test).
  const r = rig({ results: { 'envlayers.sync': () => Promise.reject(new ServerError('install-failed', 'pip failed for foo==9')) } });
  assert.equal(await r.commands.sync(), undefined);
  assert.deepEqual(harness.shown.map((s) => [s.level, s.message]), [['error', 'Env Layers: pip failed for foo==9']]);
  harness.shown.length = 0;
  const c = rig({ results: { 'envlayers.sync': () => Promise.reject(new ServerError('cancelled', 'cancelled by the user')) } });
  assert.equal(await c.commands.sync(), undefined);
  assert.equal(harness.shown.length, 0);
});

test('Show Composed Environment opens the view even when no report is available', async () => {
  const r = rig({ results: { 'envlayers.report': () => Promise.reject(new ServerError('unknown', 'not running')) } });
  await r.commands.showReport();
  assert.deepEqual(r.shown, [WS]);
});
