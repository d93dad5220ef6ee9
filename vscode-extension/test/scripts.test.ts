import './shim/register';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { UI_COMMANDS } from '../src/commands';
import { type EnvlayersApi, activateWith, deactivate } from '../src/extension';
import { ENVIRONMENT_CHANGED, type Report } from '../src/protocol';
import { hasScriptBlock, scriptOfLaunch } from '../src/scripts';
import { describeStatus } from '../src/status';
import { FakeConnection, WS, fakeContext, flush, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

const SCRIPT = path.join(WS, 'tools', 'report.py');
const BLOCK = '# /// script\n# dependencies = ["rich"]\n# ///\nimport rich\n';
const CACHE = '/cache/scripts/v1/0123456789abcdef';

function scriptReport(overrides: Partial<Report> = {}): Report {
  const composed = path.join(CACHE, '.envlayers', 'script');
  return sampleReport({
    workspace: CACHE,
    script: SCRIPT,
    name: 'script',
    interpreter: path.join(composed, 'bin', 'python'),
    baseInterpreter: path.join(CACHE, '.venv', 'bin', 'python'),
    virtualEnv: composed,
    ...overrides,
  });
}

function editor(file: string, text: string): { document: vscode.TextDocument } {
  const document = { uri: vscode.Uri.file(file), languageId: 'python', getText: () => text } as unknown as vscode.TextDocument;
  return { document };
}

let connection: FakeConnection;
let interpreterSet: { interpreter: string; folder: string }[];

async function activate(): Promise<EnvlayersApi> {
  const api = await activateWith(fakeContext(), {
    connect: async () => connection,
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
  harness.settings.set('envlayers.setInterpreter', 'always');
  interpreterSet = [];
  harness.extensions.set('ms-python.python', {
    isActive: true,
    exports: {
      ready: Promise.resolve(),
      environments: {
        getActiveEnvironmentPath: () => ({ path: '/usr/bin/python3' }),
        updateActiveEnvironmentPath: async (interpreter: string, folder: vscode.Uri) => {
          interpreterSet.push({ interpreter, folder: folder.fsPath });
        },
      },
    },
  });
  connection = new FakeConnection({
    'envlayers.report': () => sampleReport(),
    'envlayers.compose': () => scriptReport(),
    'envlayers.debugConfiguration': (arg: { script?: string }) => ({
      type: 'debugpy',
      request: 'launch',
      name: 'Python: envlayers (script)',
      python: arg.script === undefined ? '/ws/.venv/bin/python' : scriptReport().interpreter,
      env: {},
      cwd: WS,
      justMyCode: true,
      console: 'integratedTerminal',
    }),
  });
});

test('hasScriptBlock follows PEP 723 (a closed block of comment lines)', () => {
  assert.ok(hasScriptBlock(BLOCK));
  assert.ok(hasScriptBlock(BLOCK.replace(/\n/g, '\r\n')));
  assert.ok(!hasScriptBlock('import os\n'));
  assert.ok(!hasScriptBlock('# /// script\n# dependencies = []\nimport os\n# ///\n'), 'unclosed');
  assert.ok(!hasScriptBlock('# /// pyproject\n# x = 1\n# ///\n'), 'another type');
});

test('the status bar shows the active script’s environment, and a project file the project’s', async () => {
  await activate();
  const item = harness.statusItems[0];
  assert.ok(item !== undefined);
  assert.equal(item.text, '$(layers) base + 1 layer');
  harness.activeEditor = editor(SCRIPT, BLOCK);
  harness.editorEmitter.fire(harness.activeEditor);
  assert.equal(item.text, '$(layers) report.py: no environment');
  assert.equal(item.command, UI_COMMANDS.useScriptEnvironment);
  // The server says the script's env changed: the status bar shows it, the project's stays.
  connection.notify(ENVIRONMENT_CHANGED, { workspace: CACHE, script: SCRIPT, report: scriptReport() });
  await flush();
  assert.equal(item.text, '$(layers) report.py: 1 layer');
  assert.match(String(item.tooltip), /the script .*report\.py/);
  harness.activeEditor = editor(path.join(WS, 'main.py'), 'import os\n');
  harness.editorEmitter.fire(harness.activeEditor);
  assert.equal(item.text, '$(layers) base + 1 layer');
  await deactivate();
});

test('Use Script Environment composes the script and offers its interpreter', async () => {
  await activate();
  harness.activeEditor = editor(SCRIPT, BLOCK);
  const report = (await vscode.commands.executeCommand(UI_COMMANDS.useScriptEnvironment)) as Report | undefined;
  assert.equal(report?.script, SCRIPT);
  const compose = connection.calls.find((c) => c.command === 'envlayers.compose');
  assert.deepEqual(compose?.arg, { workspace: WS, script: SCRIPT });
  assert.deepEqual(interpreterSet, [{ interpreter: scriptReport().interpreter, folder: WS }]);
  // Not a script: a warning, nothing composed.
  harness.activeEditor = editor(path.join(WS, 'main.py'), 'import os\n');
  const none = await vscode.commands.executeCommand(UI_COMMANDS.useScriptEnvironment);
  assert.equal(none, undefined);
  assert.equal(connection.calls.filter((c) => c.command === 'envlayers.compose').length, 1);
  assert.ok(harness.shown.some((m) => /not a script with inline metadata/.test(m.message)));
  await deactivate();
});

test('a launch of a script with inline metadata asks for the script’s configuration', async () => {
  const api = await activate();
  harness.activeEditor = editor(SCRIPT, BLOCK);
  const config = { type: 'debugpy', request: 'launch', name: 'x', program: '${file}', envlayers: true };
  assert.equal(scriptOfLaunch(config), SCRIPT);
  const folder = harness.folders[0] as unknown as vscode.WorkspaceFolder;
  const resolved = await api.debugProvider.resolveDebugConfiguration(folder, config);
  assert.equal(resolved?.['python'], scriptReport().interpreter);
  const asked = connection.calls.filter((c) => c.command === 'envlayers.debugConfiguration');
  assert.deepEqual(asked.at(-1)?.arg, { workspace: WS, script: SCRIPT });
  // A plain file: the workspace's configuration, no script.
  harness.activeEditor = editor(path.join(WS, 'main.py'), 'import os\n');
  const plain = await api.debugProvider.resolveDebugConfiguration(folder, { ...config });
  assert.equal(plain?.['python'], '/ws/.venv/bin/python');
  assert.deepEqual(connection.calls.at(-1)?.arg, { workspace: WS });
  await deactivate();
});

test('describeStatus for a script without and with a report', () => {
  assert.equal(describeStatus('running', undefined, undefined, SCRIPT).text, '$(layers) report.py: no environment');
  assert.equal(describeStatus('running', scriptReport({ layers: [] }), undefined, SCRIPT).text, '$(layers) report.py: no dependencies');
  // A stopped server wins over the script view.
  assert.equal(describeStatus('failed', scriptReport(), undefined, SCRIPT).look, 'error');
});
