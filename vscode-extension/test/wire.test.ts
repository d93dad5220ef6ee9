// The wire test: the whole extension (activateWith) drives the REAL Python server over stdio
// through vscode-languageserver-protocol, composes a fixture workspace that installs offline,
// and checks that the report view, status bar and debug configuration come from that result.
import './shim/register';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import * as vscode from 'vscode';
import {
  ConfigurationRequest,
  ExecuteCommandRequest,
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  type ProtocolConnection,
  RegistrationRequest,
  ShutdownRequest,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  createProtocolConnection,
} from 'vscode-languageserver-protocol';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { type EnvlayersApi, activateWith, deactivate } from '../src/extension';
import { RESULT_DECODERS, type ServerCommand, decodeEnvironmentChanged, decodeErrorData } from '../src/generated/protocol';
import type { ProgressToken } from '../src/progress';
import { type ClientHooks, type LaunchPlan, type ServerConnection, probePython, serverEnv } from '../src/server';
import { fakeContext } from './helpers';
import { harness } from './shim/vscode';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

/** The server is there when `python -m envlayers` and a real `envlayers.lsp` package exist. */
function serverMissing(): string | false {
  const check = spawnSync(
    PYTHON,
    ['-c', 'import importlib.util, sys, envlayers.lsp as l; sys.exit(0 if l.__file__ and importlib.util.find_spec("envlayers.__main__") else 1)'],
    { encoding: 'utf8' },
  );
  return check.status === 0 ? false : `the envlayers language server is not importable from ${PYTHON} (import envlayers.lsp failed)`;
}

const WHEEL_SCRIPT = `
import base64, hashlib, sys, zipfile
out, name, version = sys.argv[1], sys.argv[2], sys.argv[3]
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\\n",
    f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
    f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: wire-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(c.encode())},{len(c.encode())}\\n" for p, c in files.items())
record += f"{name}-{version}.dist-info/RECORD,,\\n"
files[f"{name}-{version}.dist-info/RECORD"] = record
with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as zf:
    for p, c in files.items():
        zf.writestr(p, c)
`;

/** The isolated environment the server runs in: no pip/uv config, offline, a private cache. */
function isolatedEnv(tmp: string): NodeJS.ProcessEnv {
  const env = serverEnv();
  for (const key of Object.keys(env)) {
    if (key.startsWith('PIP_') || key.startsWith('UV_') || key.startsWith('ENVLAYERS_')) delete env[key];
  }
  return {
    ...env,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    UV_NO_CONFIG: '1',
    UV_OFFLINE: '1',
    UV_CACHE_DIR: path.join(tmp, 'uv-cache'),
    ENVLAYERS_CACHE_DIR: path.join(tmp, 'envlayers-cache'),
  };
}

/** Every real answer, checked strictly against the generated decoders (unknown keys fail). */
const contractProblems: string[] = [];
let advertised: readonly string[] = [];

function checkStrictly(what: string, decode: (value: unknown, o: { strict: boolean }) => unknown, value: unknown): void {
  try {
    decode(value, { strict: true });
  } catch (error) {
    contractProblems.push(`${what}: ${String(error)}`);
  }
}

/** A ServerConnection over the protocol layer, as vscode-languageclient would make it. */
async function connectOverStdio(plan: LaunchPlan, hooks: ClientHooks, env: NodeJS.ProcessEnv, folder: string, stderr: string[]): Promise<ServerConnection> {
  const child: ChildProcess = spawn(plan.command, [...plan.args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const stdout = child.stdout;
  const stdin = child.stdin;
  if (stdout === null || stdin === null) throw new Error('no stdio');
  const connection: ProtocolConnection = createProtocolConnection(new StreamMessageReader(stdout), new StreamMessageWriter(stdin));
  let created: ((token: ProgressToken) => void) | undefined;
  connection.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
    created?.(params.token);
    return null;
  });
  connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => hooks.serverSettings({})));
  connection.onRequest(RegistrationRequest.type, () => null);
  connection.onNotification('window/logMessage', () => undefined);
  connection.onNotification('textDocument/publishDiagnostics', () => undefined);
  connection.listen();
  const uri = pathToFileURL(folder).href;
  const init = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: uri,
    workspaceFolders: [{ uri, name: path.basename(folder) }],
    capabilities: { window: { workDoneProgress: true }, workspace: { configuration: true, workspaceFolders: true } },
    initializationOptions: hooks.serverSettings({}),
  });
  await connection.sendNotification(InitializedNotification.type, {});
  advertised = init.capabilities.executeCommandProvider?.commands ?? [];
  return {
    request: async (command, arg, token) => {
      try {
        const result: unknown = await connection.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] }, token);
        checkStrictly(command, RESULT_DECODERS[command as ServerCommand], result);
        return result;
      } catch (error) {
        const data = (error as { data?: unknown }).data;
        if (data !== undefined) checkStrictly(`${command} error data`, decodeErrorData, data);
        throw error;
      }
    },
    onNotification: (method, listener) =>
      connection.onNotification(method, (params: unknown) => {
        if (method === 'envlayers/environmentChanged') checkStrictly(method, decodeEnvironmentChanged, params);
        listener(params);
      }),
    progress: {
      onProgressCreated: (listener) => {
        created = listener;
        return new vscode.Disposable(() => (created = undefined));
      },
      onProgress: (token, listener) => connection.onProgress(WorkDoneProgress.type, token, listener),
      cancelProgress: (token) => void connection.sendNotification(WorkDoneProgressCancelNotification.type, { token }),
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await connection.sendRequest(ShutdownRequest.type);
        await connection.sendNotification(ExitNotification.type);
      } catch {
        child.kill();
      }
      const timer = setTimeout(() => child.kill(), 10_000);
      await exited;
      clearTimeout(timer);
      connection.dispose();
    },
  };
}

const missing = serverMissing();
let tmp = '';
let workspace = '';
let api: EnvlayersApi | undefined;
const plans: LaunchPlan[] = [];
const stderr: string[] = [];

before(async () => {
  if (missing) return;
  tmp = mkdtempSync(path.join(tmpdir(), 'envlayers-wire-'));
  const wheels = path.join(tmp, 'wheels');
  workspace = path.join(tmp, 'project');
  mkdirSync(wheels, { recursive: true });
  mkdirSync(workspace, { recursive: true });
  execFileSync(PYTHON, ['-c', WHEEL_SCRIPT, wheels, 'wirepkg', '1.2.3']);
  writeFileSync(
    path.join(workspace, 'pyproject.toml'),
    [
      '[project]',
      'name = "wire-demo"',
      'version = "0.1.0"',
      'requires-python = ">=3.9"',
      'dependencies = []',
      '',
      '[tool.envlayers]',
      'no-index = true',
      `find-links = [${JSON.stringify(wheels)}]`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(workspace, 'main.py'), 'import wirepkg\nprint(wirepkg.VERSION)\n');
  harness.reset();
  harness.addFolder(workspace);
  harness.settings.set('envlayers.server.interpreter', [PYTHON]);
  harness.settings.set('envlayers.setInterpreter', 'never');
  const env = isolatedEnv(tmp);
  api = await activateWith(fakeContext(), {
    connect: (plan, _log, hooks, extraEnv) => {
      plans.push(plan);
      return connectOverStdio(plan, hooks, { ...env, ...extraEnv }, workspace, stderr);
    },
    probe: probePython,
    pathPythons: () => [],
  });
  await api.ready;
});

after(async () => {
  if (api !== undefined) await deactivate();
});

test('compose through the real server builds the report view and debug configuration', { skip: missing, timeout: 240_000 }, async () => {
  assert.ok(api !== undefined);
  assert.equal(api.server.state, 'running', `server log:\n${stderr.join('')}`);
  assert.deepEqual(plans[0], { command: PYTHON, args: ['-m', 'envlayers', 'serve', '--stdio'], source: 'setting' });

  // The palette command, as a user runs it: type the requirement into the input box.
  harness.answer('wirepkg==1.2.3');
  const report = await api.commands.addLayer();
  const errors = harness.shown.filter((s) => s.level === 'error');
  assert.deepEqual(errors, [], `server log:\n${stderr.join('')}`);
  assert.ok(report !== undefined);
  assert.equal(report.schemaVersion, 1);
  assert.equal(path.resolve(report.workspace), path.resolve(workspace));
  assert.equal(report.layers.length, 1);
  assert.equal(report.layers[0]?.packages['wirepkg'], '1.2.3');
  assert.deepEqual(report.layers[0]?.requirements, ['wirepkg==1.2.3']);

  // The extension found the uv of the server's environment, said so, and the layer was built by it.
  assert.equal(api.server.installer?.name, 'uv');
  assert.ok(harness.channels[0]?.lines.some((l) => l.startsWith('[info] Installer: uv (')));
  assert.match(String(harness.statusItems[0]?.tooltip), /\nInstaller: uv \(/);
  const meta = JSON.parse(readFileSync(path.join(report.layers[0]?.path ?? '', 'envlayers-layer.json'), 'utf8')) as { installer?: string };
  assert.equal(meta.installer, 'uv');

  // The server's work-done progress was shown as a cancellable notification.
  const shownProgress = harness.progress.filter((p) => p.options.location === vscode.ProgressLocation.Notification);
  assert.ok(shownProgress.length > 0 && shownProgress.every((p) => p.options.cancellable === true && p.done));

  // The composed interpreter really imports the layer (and outlives the command).
  const out = execFileSync(report.interpreter, ['-c', 'import wirepkg; print(wirepkg.VERSION)'], { encoding: 'utf8', env: serverEnv() });
  assert.equal(out.trim(), '1.2.3');

  // Status bar and report view are built from that result.
  assert.equal(harness.statusItems[0]?.text, '$(layers) base + 1 layer');
  await api.commands.showReport();
  const provider = harness.contentProviders.get('envlayers-report');
  const view: string = provider.provideTextDocumentContent(harness.executed.at(-1)?.args[0]);
  assert.ok(view.includes(`| Interpreter | \`${report.interpreter}\` |`), view);
  assert.match(view, /\| wirepkg \| 1\.2\.3 \|/);
  assert.match(view, new RegExp(`\\| Python \\| ${report.pythonVersion.replace(/\./g, '\\.')} \\|`));

  // ${command:} helpers and the debug provider use the same composition.
  assert.equal(await api.commands.interpreterPath(), report.interpreter);
  assert.equal(await api.commands.pythonPath(), report.pythonPath);
  const folder = { uri: vscode.Uri.file(workspace), name: 'project', index: 0 };
  const resolved = await api.debugProvider.resolveDebugConfiguration(folder, {
    type: 'debugpy',
    request: 'launch',
    name: 'wire',
    program: path.join(workspace, 'main.py'),
    envlayers: true,
  });
  assert.ok(resolved !== undefined && resolved !== null);
  assert.equal(resolved['python'], report.interpreter);
  assert.equal(resolved['env']['VIRTUAL_ENV'], report.virtualEnv);
  assert.ok(!('PYTHONPATH' in resolved['env']), 'never PYTHONPATH');
  assert.equal(resolved['program'], path.join(workspace, 'main.py'));
  const untouched = { type: 'debugpy', request: 'launch', name: 'plain', program: 'main.py' };
  assert.deepEqual(await api.debugProvider.resolveDebugConfiguration(folder, { ...untouched }), untouched);

  // The debug configuration runs the program with the layer on the composed interpreter.
  const run = execFileSync(resolved['python'], [resolved['program']], { encoding: 'utf8', env: { ...serverEnv(), ...resolved['env'] }, cwd: workspace });
  assert.equal(run.trim(), '1.2.3');

  // Every answer so far (reports, debug configuration, environmentChanged) met the contract.
  const layers = await api.server.execute('envlayers.listLayers', { workspace });
  assert.deepEqual(layers.map((l) => [l.key, l.valid]), [[report.layers[0]?.key, true]]);
  assert.deepEqual(contractProblems, []);
});

test('the compositions and profiles come from the server, decoded with the contract', { skip: missing, timeout: 120_000 }, async (t) => {
  assert.ok(api !== undefined);
  if (!advertised.includes('envlayers.listCompositions') || !advertised.includes('envlayers.listProfiles')) {
    t.skip('this server does not have envlayers.listCompositions / envlayers.listProfiles yet');
    return;
  }
  mkdirSync(path.join(workspace, '.envlayers', '.tmp-half-built'), { recursive: true });
  const rows = await api.server.execute('envlayers.listCompositions', { workspace });
  assert.ok(rows.length >= 1 && rows.every((r) => !r.name.startsWith('.')), JSON.stringify(rows));
  assert.ok(rows.some((r) => r.active && r.valid));
  const profiles = await api.server.execute('envlayers.listProfiles', { workspace });
  assert.deepEqual(profiles, []);
  assert.deepEqual(contractProblems, []);
});

const SLOW_BACKEND = `
import base64, hashlib, os, time, zipfile
NAME = "slowdep"
DIST = NAME + "-1.0.dist-info"
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    time.sleep(float(os.environ.get("WIRE_SLOW_BUILD", "4")))
    files = [(NAME + ".py", b"VALUE = 1\\n"),
             (DIST + "/METADATA", b"Metadata-Version: 2.1\\nName: slowdep\\nVersion: 1.0\\n"),
             (DIST + "/WHEEL", b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")]
    h = lambda d: "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
    record = "".join("%s,%s,%d\\n" % (a, h(d), len(d)) for a, d in files) + DIST + "/RECORD,,\\n"
    files.append((DIST + "/RECORD", record.encode()))
    wheel = NAME + "-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for arc, data in files:
            zf.writestr(arc, data)
    return wheel
`;

test('Add Layer entered while a slow sync runs is queued and composed after it (real server)', { skip: missing, timeout: 240_000 }, async () => {
  assert.ok(api !== undefined);
  // A dependency whose wheel build takes seconds: the sync is still running when "Add Layer" comes.
  const slow = path.join(tmp, 'slowdep');
  mkdirSync(slow, { recursive: true });
  writeFileSync(path.join(slow, 'backend.py'), SLOW_BACKEND);
  writeFileSync(
    path.join(slow, 'pyproject.toml'),
    '[project]\nname = "slowdep"\nversion = "1.0"\n[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
  );
  const pyproject = path.join(workspace, 'pyproject.toml');
  const before = readFileSync(pyproject, 'utf8');
  writeFileSync(pyproject, before.replace('dependencies = []', `dependencies = ["slowdep @ ${pathToFileURL(slow).href}"]`));
  harness.shown.length = 0;
  const started = Date.now();
  const sync = api.commands.sync();
  await new Promise((resolve) => setTimeout(resolve, 500));
  harness.answer('wirepkg==1.2.3');
  const add = api.commands.addLayer();
  const [synced, composed] = await Promise.all([sync, add]);
  const errors = harness.shown.filter((s) => s.level === 'error');
  assert.deepEqual(errors, [], `server log:\n${stderr.join('').slice(-4000)}`);
  assert.ok(synced !== undefined && synced.sync.installed.some((i) => i.startsWith('slowdep')), JSON.stringify(synced?.sync));
  assert.ok(Date.now() - started > 3000, 'the sync was slow');
  assert.ok(composed !== undefined, 'the layer was dropped');
  assert.ok(harness.shown.some((s) => /wirepkg==1\.2\.3 will start after syncing/.test(s.message)), JSON.stringify(harness.shown));
  // On disk: the composition exists and imports both the layer and the synced dependency.
  const out = execFileSync(composed.interpreter, ['-c', 'import wirepkg, slowdep; print(wirepkg.VERSION, slowdep.VALUE)'], { encoding: 'utf8', env: serverEnv() });
  assert.equal(out.trim(), '1.2.3 1');
  assert.deepEqual(contractProblems, []);
});
