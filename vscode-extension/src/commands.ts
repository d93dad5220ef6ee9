// The palette commands. Their ids are ours (`envlayers.ui.*`, `envlayers.interpreterPath`,
// `envlayers.pythonPath`): the server's ids are registered by the language client itself.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ArgsOf, Profile, Report, ResultOf, ServerCommand } from './protocol';
import { SERVER_COMMANDS, ServerError } from './protocol';
import type { Settings } from './settings';
import { USE_SCRIPT_ENVIRONMENT, useScriptEnvironment } from './scripts';
import type { ReportStore } from './state';
import { summarize } from './status';
import type { TrustGate } from './trust';

export const UI_COMMANDS = {
  sync: 'envlayers.ui.sync',
  addLayer: 'envlayers.ui.addLayer',
  useProfile: 'envlayers.ui.useProfile',
  removeLayers: 'envlayers.ui.removeLayers',
  showReport: 'envlayers.ui.showReport',
  copyInterpreterPath: 'envlayers.ui.copyInterpreterPath',
  copyPythonPath: 'envlayers.ui.copyPythonPath',
  installKernel: 'envlayers.ui.installKernel',
  pruneLayers: 'envlayers.ui.pruneLayers',
  restartServer: 'envlayers.ui.restartServer',
  interpreterPath: 'envlayers.interpreterPath',
  pythonPath: 'envlayers.pythonPath',
  useScriptEnvironment: USE_SCRIPT_ENVIRONMENT,
} as const;

export const RECENT_LAYERS_KEY = 'envlayers.recentLayers';

/** Splits "rich 'pandas >= 2' foo[bar]>=1,<2" style input into PEP 508 strings. */
export function splitRequirements(input: string): string[] {
  const out: string[] = [];
  const operatorStart = /^[<>=!~;,@(]/;
  const operatorEnd = /[<>=!~;,@(]$/;
  let inMarker = false;
  for (const token of input.trim().split(/\s+/)) {
    if (token === '') continue;
    const last = out.length - 1;
    // An operator, a version after an operator, or anything after ';' continues the previous one.
    if (last >= 0 && (inMarker || operatorStart.test(token) || operatorEnd.test(out[last] ?? ''))) {
      out[last] = `${out[last]} ${token}`;
    } else {
      out.push(token);
    }
    if (token.includes(';')) inMarker = true;
  }
  return out;
}

/** What a profile layers, for its quick pick entry: "jupyterlab ipykernel -r req.txt -e ./lib". */
export function describeProfile(profile: Profile): string {
  return [
    ...profile.with,
    ...profile.withRequirements.map((r) => `-r ${r}`),
    ...profile.withEditable.map((e) => `-e ${e}`),
  ].join(' ');
}

/** Most recent first, no duplicates, at most `limit`. */
export function rememberRecent(recent: readonly string[], entry: string, limit: number): string[] {
  return [entry, ...recent.filter((r) => r !== entry)].slice(0, limit);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What the commands need from the rest of the extension (injected, so tests can fake it). */
export interface CommandDeps {
  execute<K extends ServerCommand>(command: K, args: ArgsOf<K>, token?: vscode.CancellationToken): Promise<ResultOf<K>>;
  readonly store: ReportStore;
  readonly trust: TrustGate;
  readonly settings: () => Settings;
  readonly memento: vscode.Memento;
  readonly log: vscode.LogOutputChannel;
  readonly python: {
    activeInterpreter(resource?: vscode.Uri): Promise<string | undefined>;
    setActiveInterpreter(interpreter: string, folder: vscode.Uri): Promise<boolean>;
  };
  folder(): vscode.WorkspaceFolder | undefined;
  showReport(folder: string): Promise<void>;
  restartServer(): Promise<void>;
}

/** Shows a server failure to the user; a cancellation is not a failure. */
export function reportError(log: vscode.LogOutputChannel, error: unknown): void {
  const err = error instanceof ServerError ? error : new ServerError('unknown', String(error));
  if (err.kind === 'cancelled') {
    log.info(`Cancelled: ${err.message}`);
    return;
  }
  log.error(`${err.kind}: ${err.message}`);
  void vscode.window.showErrorMessage(`Env Layers: ${err.message}`);
}

/** Server commands that install: one at a time per workspace, in the order asked. */
const INSTALLING: readonly ServerCommand[] = ['envlayers.sync', 'envlayers.compose', 'envlayers.installKernel'];

interface Job {
  readonly title: string;
  readonly done: Promise<unknown>;
}

export class Commands {
  /** The last installing job asked for, per workspace (what a new one waits for). */
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly deps: CommandDeps) {}

  /** The title of the installing job running (or queued last) for `workspace`. */
  busy(workspace: string): string | undefined {
    return this.jobs.get(path.resolve(workspace))?.title;
  }

  /**
   * Runs installing jobs of a workspace one after another. A job asked for while another runs
   * is queued behind it and the user is told so at once; it runs whatever the first one's
   * outcome (the server would also queue it, but a job must never depend on that to be done).
   */
  private async queue<T>(workspace: string, title: string, work: () => Promise<T>): Promise<T> {
    const key = path.resolve(workspace);
    const before = this.jobs.get(key);
    if (before !== undefined) {
      this.deps.log.info(`Queued ${title}: it starts after ${before.title}`);
      void vscode.window.showInformationMessage(
        `Env Layers: ${title} will start after ${before.title} has finished.`,
      );
    }
    const done = (before?.done ?? Promise.resolve()).then(
      () => work(),
      () => work(),
    );
    const job: Job = { title, done };
    this.jobs.set(key, job);
    try {
      return await done;
    } finally {
      if (this.jobs.get(key) === job) this.jobs.delete(key);
    }
  }

  /** Registers every palette command; returns their disposables. */
  register(): vscode.Disposable[] {
    const ids = Object.values(UI_COMMANDS) as string[];
    const owned = SERVER_COMMANDS as readonly string[];
    for (const id of ids) {
      if (owned.includes(id)) throw new Error(`command ${id} belongs to the server`);
    }
    const table: Record<string, (...args: unknown[]) => unknown> = {
      [UI_COMMANDS.sync]: () => this.sync(),
      [UI_COMMANDS.addLayer]: () => this.addLayer(),
      [UI_COMMANDS.useProfile]: () => this.useProfile(),
      [UI_COMMANDS.removeLayers]: () => this.removeLayers(),
      [UI_COMMANDS.showReport]: () => this.showReport(),
      [UI_COMMANDS.copyInterpreterPath]: () => this.copy('interpreter'),
      [UI_COMMANDS.copyPythonPath]: () => this.copy('pythonPath'),
      [UI_COMMANDS.installKernel]: () => this.installKernel(),
      [UI_COMMANDS.pruneLayers]: () => this.pruneLayers(),
      [UI_COMMANDS.restartServer]: () => this.deps.restartServer(),
      [UI_COMMANDS.interpreterPath]: () => this.interpreterPath(),
      [UI_COMMANDS.pythonPath]: () => this.pythonPath(),
      [UI_COMMANDS.useScriptEnvironment]: () => this.useScript(),
    };
    return ids.map((id) => {
      const handler = table[id];
      if (handler === undefined) throw new Error(`no handler for ${id}`);
      return vscode.commands.registerCommand(id, handler);
    });
  }

  private workspace(): string | undefined {
    const folder = this.deps.folder();
    if (folder === undefined) {
      void vscode.window.showWarningMessage('Env Layers: open a folder with a pyproject.toml first.');
      return undefined;
    }
    return folder.uri.fsPath;
  }

  /** Runs a server command with a window progress indicator; undefined on failure. */
  private async run<K extends ServerCommand>(title: string, command: K, args: ArgsOf<K>): Promise<ResultOf<K> | undefined> {
    const request = async (): Promise<ResultOf<K>> =>
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Env Layers: ${title}` },
        () => this.deps.execute(command, args),
      );
    const workspace = (args as { workspace?: unknown }).workspace;
    try {
      if (INSTALLING.includes(command) && typeof workspace === 'string') {
        return await this.queue(workspace, title, request);
      }
      return await request();
    } catch (error) {
      reportError(this.deps.log, error);
      return undefined;
    }
  }

  /** The folder's report: the latest one we saw, else the server's (computed, never installing). */
  async report(workspace: string): Promise<Report> {
    const known = this.deps.store.get(workspace);
    if (known !== undefined) return known;
    const report = await this.deps.execute('envlayers.report', { workspace });
    this.deps.store.set(report, workspace);
    return report;
  }

  async sync(): Promise<Report | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined || !(await this.deps.trust.require('Syncing the workspace environment'))) {
      return undefined;
    }
    const report = await this.run('syncing the workspace environment', 'envlayers.sync', { workspace });
    if (report === undefined) return undefined;
    this.deps.store.set(report, workspace);
    const s = report.sync;
    void vscode.window.showInformationMessage(
      `Env Layers: ${path.basename(report.workspace)} environment synced (${s.installed.length} installed, ${s.removed.length} removed).`,
    );
    return report;
  }

  private async compose(title: string, args: ArgsOf<'envlayers.compose'>): Promise<Report | undefined> {
    const report = await this.run(title, 'envlayers.compose', args);
    if (report === undefined) return undefined;
    this.deps.store.set(report, args.workspace);
    await this.offerInterpreter(report, args.workspace);
    return report;
  }

  /** Asks for requirements: a recent stack from a quick pick, or new ones in an input box. */
  private async askRequirements(): Promise<string[] | undefined> {
    const recent = this.deps.memento.get<string[]>(RECENT_LAYERS_KEY, []);
    let text: string | undefined;
    if (recent.length > 0) {
      const fresh = '$(add) Enter requirements…';
      const pick = await vscode.window.showQuickPick([fresh, ...recent], {
        title: 'Env Layers: Add Layer (--with)',
        placeHolder: 'A recent layer, or new requirements',
      });
      if (pick === undefined) return undefined;
      text = pick === fresh ? undefined : pick;
    }
    if (text === undefined) {
      text = await vscode.window.showInputBox({
        title: 'Env Layers: Add Layer (--with)',
        prompt: 'Requirements to layer on top of the workspace environment, separated by spaces',
        placeHolder: 'rich pandas>=2 ./wheels/mylib-1.0-py3-none-any.whl',
        validateInput: (value) => (value.trim() === '' ? 'Enter at least one requirement' : undefined),
      });
    }
    if (text === undefined || text.trim() === '') return undefined;
    const requirements = splitRequirements(text);
    const limit = this.deps.settings().recentLayersLimit;
    await this.deps.memento.update(RECENT_LAYERS_KEY, rememberRecent(recent, requirements.join(' '), limit));
    return requirements;
  }

  async addLayer(): Promise<Report | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined || !(await this.deps.trust.require('Composing layers'))) return undefined;
    const requirements = await this.askRequirements();
    if (requirements === undefined) return undefined;
    return this.compose(`composing ${requirements.join(' ')}`, { workspace, with: requirements });
  }

  async useProfile(): Promise<Report | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined || !(await this.deps.trust.require('Composing a profile'))) return undefined;
    // The server reads pyproject.toml (the one parser of [tool.envlayers.profiles]).
    let profiles: readonly Profile[];
    try {
      profiles = await this.deps.execute('envlayers.listProfiles', { workspace });
    } catch (error) {
      reportError(this.deps.log, error);
      return undefined;
    }
    if (profiles.length === 0) {
      void vscode.window.showInformationMessage(
        'Env Layers: pyproject.toml declares no profiles; add a [tool.envlayers.profiles.NAME] table with `with = [...]`.',
      );
      return undefined;
    }
    const items = profiles.map((p) => ({ label: p.name, description: describeProfile(p) }));
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Env Layers: Use Profile',
      placeHolder: 'A profile from [tool.envlayers.profiles]',
    });
    if (picked === undefined) return undefined;
    const profile = picked.label;
    return this.compose(`composing profile ${profile}`, { workspace, profile });
  }

  async removeLayers(): Promise<Report | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined || !(await this.deps.trust.require('Composing (removing layers)'))) {
      return undefined;
    }
    return this.compose('back to the base', { workspace, noSync: true });
  }

  async showReport(): Promise<void> {
    const workspace = this.workspace();
    if (workspace === undefined) return;
    try {
      await this.report(workspace);
    } catch (error) {
      reportError(this.deps.log, error);
    }
    // The view explains a missing report itself, so open it either way.
    await this.deps.showReport(workspace);
  }

  private async copy(what: 'interpreter' | 'pythonPath'): Promise<string | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined) return undefined;
    try {
      const value = (await this.report(workspace))[what];
      await vscode.env.clipboard.writeText(value);
      void vscode.window.showInformationMessage(
        what === 'interpreter' ? `Env Layers: copied ${value}` : 'Env Layers: copied the PYTHONPATH of the composition.',
      );
      return value;
    } catch (error) {
      reportError(this.deps.log, error);
      return undefined;
    }
  }

  /** `${command:envlayers.interpreterPath}`: must resolve to a string or fail the launch. */
  async interpreterPath(): Promise<string> {
    const workspace = this.deps.folder()?.uri.fsPath;
    if (workspace === undefined) throw new Error('Env Layers: no workspace folder is open');
    return (await this.report(workspace)).interpreter;
  }

  /** `${command:envlayers.pythonPath}`. */
  async pythonPath(): Promise<string> {
    const workspace = this.deps.folder()?.uri.fsPath;
    if (workspace === undefined) throw new Error('Env Layers: no workspace folder is open');
    return (await this.report(workspace)).pythonPath;
  }

  async installKernel(): Promise<string | undefined> {
    const workspace = this.workspace();
    if (workspace === undefined || !(await this.deps.trust.require('Installing a Jupyter kernel'))) {
      return undefined;
    }
    const kernel = await this.run('installing a Jupyter kernel', 'envlayers.installKernel', { workspace });
    if (kernel === undefined) return undefined;
    void vscode.window.showInformationMessage(
      `Env Layers: installed the Jupyter kernel "${kernel.name}" (${kernel.interpreter}). ` +
        'Pick it in a notebook\'s kernel list; it also appears under Python environments once it is the workspace interpreter.',
    );
    return kernel.name;
  }

  async pruneLayers(): Promise<void> {
    const workspace = this.workspace();
    if (workspace === undefined) return;
    // The server keeps layers that a composition uses unless `all` is set: age 0 means
    // "every layer no composition uses".
    const choices = [
      { label: 'Unused for 30 days', olderThanDays: 30 },
      { label: 'Unused for 7 days', olderThanDays: 7 },
      { label: 'Every layer no composition uses', olderThanDays: 0 },
    ];
    const pick = await vscode.window.showQuickPick(choices, { title: 'Env Layers: Prune Layer Cache' });
    if (pick === undefined) return;
    const args: ArgsOf<'envlayers.pruneLayers'> = { workspace, olderThanDays: pick.olderThanDays };
    const result = await this.run('pruning the layer cache', 'envlayers.pruneLayers', args);
    if (result === undefined) return;
    const n = result.removed.length;
    void vscode.window.showInformationMessage(
      `Env Layers: removed ${n} layer${n === 1 ? '' : 's'}, freed ${formatBytes(result.freedBytes)}.`,
    );
  }

  /** "Use Script Environment": the active script's own environment (`scripts.ts`). */
  useScript(script?: string): Promise<Report | undefined> {
    return useScriptEnvironment(
      {
        execute: (command, args, token) => this.deps.execute(command, args, token),
        remember: (report) => this.deps.store.set(report),
        offerInterpreter: (report, workspace) => this.offerInterpreter(report, workspace),
        requireTrust: (what) => this.deps.trust.require(what),
        onError: (error) => reportError(this.deps.log, error),
      },
      script,
    );
  }

  /** After a compose: make the composed interpreter the workspace's, per `envlayers.setInterpreter`. */
  async offerInterpreter(report: Report, workspace: string): Promise<boolean> {
    const mode = this.deps.settings().setInterpreter;
    if (mode === 'never') return false;
    const folder = vscode.Uri.file(workspace);
    let current: string | undefined;
    try {
      current = await this.deps.python.activeInterpreter(folder);
    } catch {
      current = undefined;
    }
    if (current === report.interpreter) return false;
    if (mode === 'ask') {
      const choice = await vscode.window.showInformationMessage(
        `Env Layers: use ${summarize(report)} (${report.interpreter}) as this workspace's Python interpreter? Pylance, the test explorer and Jupyter will use it.`,
        'Use It',
        'Always',
        'Not Now',
      );
      if (choice === 'Always') {
        await vscode.workspace
          .getConfiguration('envlayers', folder)
          .update('setInterpreter', 'always', vscode.ConfigurationTarget.Workspace);
      } else if (choice !== 'Use It') {
        return false;
      }
    }
    try {
      const done = await this.deps.python.setActiveInterpreter(report.interpreter, folder);
      if (!done) this.deps.log.info('The Python extension is not installed; the interpreter was not changed');
      return done;
    } catch (error) {
      reportError(this.deps.log, error);
      return false;
    }
  }
}
