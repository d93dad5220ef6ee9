// Chooses an interpreter for `python -m envlayers serve`, starts one language client for the
// window, and restarts it (debounced) when the server settings change.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageserver-protocol';
import { type InstallerChoice, UV_ENV, chooseInstaller } from './installer';
import type { ProgressSource } from './progress';
import { ServerProgress } from './progress';
import {
  type ArgsOf,
  DECODERS,
  ENVIRONMENT_CHANGED,
  type EnvironmentChanged,
  type ResultOf,
  type ServerCommand,
  ServerError,
  decodeEnvironmentChanged,
  toServerError,
} from './protocol';
import type { Settings } from './settings';
import type { ServerState } from './status';

/** How to run the server. */
export interface LaunchPlan {
  readonly command: string;
  readonly args: readonly string[];
  readonly source: 'setting' | 'python-extension' | 'bundled';
}

export interface ProbeResult {
  readonly executable: string;
  readonly version: readonly [number, number, number];
  readonly hasEnvlayers: boolean;
}

/** Runs a Python command and says what it is; undefined when it does not run. */
export type Probe = (command: readonly string[]) => Promise<ProbeResult | undefined>;

export interface LaunchInputs {
  readonly settings: Settings;
  readonly pythonExtensionInterpreter: string | undefined;
  /** `bundled/tool/server.py` when the bundled libraries are present. */
  readonly bundledLauncher: string | undefined;
  readonly pathPythons: readonly string[];
  readonly probe: Probe;
}

export const MIN_SERVER_PYTHON: readonly [number, number] = [3, 11];

function recentEnough(version: readonly number[]): boolean {
  const [major = 0, minor = 0] = version;
  const [wantMajor, wantMinor] = MIN_SERVER_PYTHON;
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

function serveArgs(settings: Settings): string[] {
  return ['serve', '--stdio', ...(settings.serverVerbose ? ['-v'] : [])];
}

/** Picks the server's interpreter: the setting, the Python extension's, else the bundled server. */
export async function planLaunch(
  inputs: LaunchInputs,
): Promise<{ plan: LaunchPlan | undefined; notes: string[] }> {
  const notes: string[] = [];
  const usable = async (command: readonly string[], what: string): Promise<boolean> => {
    const found = await inputs.probe(command);
    if (found === undefined) {
      notes.push(`${what} (${command.join(' ')}) does not run`);
      return false;
    }
    if (!found.hasEnvlayers) {
      notes.push(`${what} (${found.executable}) cannot import envlayers`);
      return false;
    }
    if (!recentEnough(found.version)) {
      notes.push(`${what} (${found.executable}) is Python ${found.version.join('.')}, the server needs 3.11+`);
      return false;
    }
    return true;
  };

  const configured = inputs.settings.serverInterpreter;
  const [exe, ...lead] = configured;
  if (exe !== undefined) {
    if (await usable(configured, 'envlayers.server.interpreter')) {
      return {
        plan: { command: exe, args: [...lead, '-m', 'envlayers', ...serveArgs(inputs.settings)], source: 'setting' },
        notes,
      };
    }
  }
  const selected = inputs.pythonExtensionInterpreter;
  if (selected !== undefined && (await usable([selected], "the Python extension's interpreter"))) {
    return {
      plan: { command: selected, args: ['-m', 'envlayers', ...serveArgs(inputs.settings)], source: 'python-extension' },
      notes,
    };
  }
  if (inputs.bundledLauncher === undefined) {
    notes.push('this build of the extension has no bundled server');
    return { plan: undefined, notes };
  }
  for (const candidate of inputs.pathPythons) {
    const found = await inputs.probe([candidate]);
    if (found !== undefined && recentEnough(found.version)) {
      return {
        plan: { command: found.executable, args: [inputs.bundledLauncher, ...serveArgs(inputs.settings)], source: 'bundled' },
        notes,
      };
    }
  }
  notes.push('no Python 3.11 or newer on PATH to run the bundled server');
  return { plan: undefined, notes };
}

const PROBE_SCRIPT = [
  'import importlib.util, json, sys',
  'ok = importlib.util.find_spec("envlayers") is not None',
  'print(json.dumps({"executable": sys.executable, "version": list(sys.version_info[:3]), "envlayers": ok}))',
].join('\n');

/** The real probe: runs the interpreter with a one-line script, no shell. */
export const probePython: Probe = (command) =>
  new Promise((resolve) => {
    const [exe, ...lead] = command;
    if (exe === undefined) {
      resolve(undefined);
      return;
    }
    execFile(exe, [...lead, '-c', PROBE_SCRIPT], { timeout: 20_000, env: serverEnv() }, (error, stdout) => {
      if (error !== null) {
        resolve(undefined);
        return;
      }
      try {
        const data = JSON.parse(stdout.trim().split('\n').pop() ?? '') as {
          executable: string;
          version: [number, number, number];
          envlayers: boolean;
        };
        resolve({ executable: data.executable || exe, version: data.version, hasEnvlayers: data.envlayers });
      } catch {
        resolve(undefined);
      }
    });
  });

/** Pythons on PATH, in PATH order, most specific names first. */
export function pythonsOnPath(envPath: string | undefined = process.env['PATH']): string[] {
  const names =
    process.platform === 'win32'
      ? ['python.exe', 'python3.exe']
      : ['python3', 'python', 'python3.13', 'python3.12', 'python3.11'];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        if (!statSync(candidate).isFile() || seen.has(candidate)) continue;
      } catch {
        continue;
      }
      seen.add(candidate);
      out.push(candidate);
    }
  }
  return out;
}

/** The server's environment: ours, without variables that would redirect its imports. */
export function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['PYTHONPATH'];
  delete env['PYTHONHOME'];
  return env;
}

export function bundledLauncher(extensionPath: string): string | undefined {
  const launcher = path.join(extensionPath, 'bundled', 'tool', 'server.py');
  const libs = path.join(extensionPath, 'bundled', 'libs', 'envlayers', '__init__.py');
  return existsSync(launcher) && existsSync(libs) ? launcher : undefined;
}

/** One running server, as the rest of the extension sees it. */
export interface ServerConnection {
  request(command: ServerCommand, arg: unknown, token?: vscode.CancellationToken): Promise<unknown>;
  onNotification(method: string, listener: (params: unknown) => void): vscode.Disposable;
  readonly progress?: ProgressSource;
  stop(): Promise<void>;
}

/** What the real client needs from the rest of the extension. */
export interface ClientHooks {
  /** False stops a server command (e.g. a quick fix that syncs) that VS Code runs directly. */
  allowCommand(command: string): Promise<boolean>;
  /** The `envlayers` settings as the server should see them. */
  serverSettings(raw: unknown): Record<string, unknown>;
}

/** `extraEnv`: variables for the server on top of `serverEnv()` (e.g. ENVLAYERS_UV). */
export type Connect = (
  plan: LaunchPlan,
  log: vscode.LogOutputChannel,
  hooks: ClientHooks,
  extraEnv: Readonly<Record<string, string>>,
) => Promise<ServerConnection>;

/** Starts the real language client (vscode-languageclient, loaded only here). */
export const connectLanguageClient: Connect = async (plan, log, hooks, extraEnv) => {
  const lc = await import('vscode-languageclient/node');
  const serverOptions: import('vscode-languageclient/node').ServerOptions = {
    command: plan.command,
    args: [...plan.args],
    options: { env: { ...serverEnv(), ...extraEnv } },
  };
  const clientOptions: import('vscode-languageclient/node').LanguageClientOptions = {
    // Python files too: the server checks a `# /// script` block (PEP 723) and ignores the rest.
    documentSelector: [
      { scheme: 'file', pattern: '**/pyproject.toml' },
      { scheme: 'file', language: 'python' },
    ],
    outputChannel: log,
    initializationOptions: hooks.serverSettings(vscode.workspace.getConfiguration().get('envlayers')),
    middleware: {
      executeCommand: async (command, args, next) => ((await hooks.allowCommand(command)) ? next(command, args) : undefined),
      workspace: {
        configuration: async (params, token, next) => {
          const values = await next(params, token);
          if (!Array.isArray(values)) return values;
          return values.map((value, i) => (params.items[i]?.section === 'envlayers' ? hooks.serverSettings(value) : value));
        },
      },
    },
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{pyproject.toml,pylock.toml,uv.lock,.python-version}'),
    },
  };
  const client = new lc.LanguageClient('envlayers', 'Env Layers', serverOptions, clientOptions);
  await client.start();
  let created: ((token: string | number) => void) | undefined;
  // Replaces the client's own progress handler, which shows no installer lines and no cancel.
  const createHandler = client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
    created?.(params.token);
  });
  return {
    request: (command, arg, token) =>
      client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] }, token),
    onNotification: (method, listener) => client.onNotification(method, listener),
    progress: {
      onProgressCreated: (listener) => {
        created = listener;
        return new vscode.Disposable(() => {
          created = undefined;
        });
      },
      onProgress: (token, listener) => client.onProgress(WorkDoneProgress.type, token, listener),
      cancelProgress: (token) => {
        void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
      },
    },
    stop: async () => {
      createHandler.dispose();
      await client.stop();
      await client.dispose();
    },
  };
};

export interface ServerManagerDeps {
  readonly log: vscode.LogOutputChannel;
  readonly extensionPath: string;
  readonly settings: () => Settings;
  readonly pythonInterpreter: () => Promise<string | undefined>;
  readonly connect: Connect;
  readonly hooks: ClientHooks;
  readonly probe: Probe;
  readonly pathPythons: () => readonly string[];
  readonly restartDelayMs?: number;
  /** `envlayers.installer` (auto, uv, pip); auto when absent. */
  readonly installerSetting?: () => string;
  /** Where to look for uv (the extension host's environment by default). */
  readonly environment?: NodeJS.ProcessEnv;
}

export const NOT_RUNNING = 'The Env Layers server is not running (see the "Env Layers" output).';

/** Owns the one server of the window: start, stop, debounced restart, typed requests. */
export class ServerManager implements vscode.Disposable {
  private connection: ServerConnection | undefined;
  private subscriptions: vscode.Disposable[] = [];
  private pending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private currentState: ServerState = 'stopped';
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly changedEmitter = new vscode.EventEmitter<EnvironmentChanged>();
  readonly onDidChangeState: vscode.Event<ServerState> = this.stateEmitter.event;
  readonly onEnvironmentChanged: vscode.Event<EnvironmentChanged> = this.changedEmitter.event;
  lastPlan: LaunchPlan | undefined;
  /** The installer chosen for the running server (shown in the output and the status bar). */
  installer: InstallerChoice | undefined;

  constructor(private readonly deps: ServerManagerDeps) {}

  get state(): ServerState {
    return this.currentState;
  }

  private setState(state: ServerState): void {
    this.currentState = state;
    this.stateEmitter.fire(state);
  }

  /** Starts the server unless it runs; resolves once it is running or has failed. */
  start(): Promise<void> {
    this.pending = this.pending.then(() => (this.connection === undefined ? this.doStart() : undefined));
    return this.pending;
  }

  stop(): Promise<void> {
    this.pending = this.pending.then(() => this.doStop());
    return this.pending;
  }

  restart(): Promise<void> {
    this.pending = this.pending.then(async () => {
      await this.doStop();
      await this.doStart();
    });
    return this.pending;
  }

  /** Restarts once the settings have stopped changing for a moment. */
  scheduleRestart(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.restart();
    }, this.deps.restartDelayMs ?? 750);
  }

  private async doStart(): Promise<void> {
    const { log } = this.deps;
    this.setState('starting');
    const settings = this.deps.settings();
    let pythonInterpreter: string | undefined;
    try {
      pythonInterpreter = await this.deps.pythonInterpreter();
    } catch (error) {
      log.warn(`Could not ask the Python extension for its interpreter: ${String(error)}`);
    }
    const { plan, notes } = await planLaunch({
      settings,
      pythonExtensionInterpreter: pythonInterpreter,
      bundledLauncher: bundledLauncher(this.deps.extensionPath),
      pathPythons: this.deps.pathPythons(),
      probe: this.deps.probe,
    });
    for (const note of notes) log.warn(note);
    if (plan === undefined) {
      this.setState('failed');
      void this.explainFailure(`found no Python to run it: ${notes.join('; ')}.`);
      return;
    }
    log.info(`Starting the server (${plan.source}): ${plan.command} ${plan.args.join(' ')}`);
    const installer = chooseInstaller({
      setting: this.deps.installerSetting?.() ?? 'auto',
      env: this.deps.environment ?? process.env,
      selectedInterpreter: pythonInterpreter,
      serverPython: plan.command,
    });
    this.installer = installer;
    log.info(installer.summary);
    const extraEnv: Record<string, string> = installer.uv === undefined ? {} : { [UV_ENV]: installer.uv };
    try {
      const connection = await this.deps.connect(plan, log, this.deps.hooks, extraEnv);
      this.connection = connection;
      this.lastPlan = plan;
      this.subscriptions = [
        connection.onNotification(ENVIRONMENT_CHANGED, (params) => {
          try {
            this.changedEmitter.fire(decodeEnvironmentChanged(params));
          } catch (error) {
            log.error(`Ignored a malformed ${ENVIRONMENT_CHANGED}: ${String(error)}`);
          }
        }),
      ];
      if (connection.progress !== undefined) {
        this.subscriptions.push(new ServerProgress(connection.progress));
      }
      this.setState('running');
    } catch (error) {
      this.setState('failed');
      log.error(`The server failed to start: ${String(error)}`);
      void this.explainFailure(`failed to start with ${plan.command}: ${String(error)}`);
    }
  }

  private async doStop(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions = [];
    if (connection !== undefined) {
      try {
        await connection.stop();
      } catch (error) {
        this.deps.log.warn(`Stopping the server: ${String(error)}`);
      }
    }
    this.setState('stopped');
  }

  private async explainFailure(detail: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(
      `Env Layers could not start its server: ${detail} Set "envlayers.server.interpreter" to a Python 3.11+ where envlayers is installed.`,
      'Open Settings',
      'Show Log',
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'envlayers.server');
    } else if (choice === 'Show Log') {
      this.deps.log.show();
    }
  }

  /** Runs a server command and decodes its result; rejects with a `ServerError`. */
  async execute<K extends ServerCommand>(
    command: K,
    args: ArgsOf<K>,
    token?: vscode.CancellationToken,
  ): Promise<ResultOf<K>> {
    await this.pending;
    const connection = this.connection;
    if (connection === undefined) {
      throw new ServerError('unknown', NOT_RUNNING);
    }
    let raw: unknown;
    try {
      raw = await connection.request(command, args, token);
    } catch (error) {
      throw toServerError(error);
    }
    return DECODERS[command](raw) as ResultOf<K>;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    void this.stop();
    this.stateEmitter.dispose();
    this.changedEmitter.dispose();
  }
}
