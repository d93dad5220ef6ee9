// Optional bridges to the Python extension (active interpreter) and the Python Environments
// extension (an environment manager listing compositions). Without them everything else works.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Composition } from './protocol';
import type { ReportStore } from './state';

export const PYTHON_EXTENSION = 'ms-python.python';
export const PYTHON_ENVS_EXTENSION = 'ms-python.vscode-python-envs';

/** What we use of the Python extension's API (`exports`). */
interface PythonExtensionApi {
  readonly ready?: Promise<void>;
  readonly environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { readonly path: string };
    updateActiveEnvironmentPath(path: string, resource?: vscode.Uri | vscode.WorkspaceFolder): Promise<void>;
  };
}

/** What we use of the Python Environments extension's API. */
interface EnvsApi {
  registerEnvironmentManager(manager: EnvManager, options?: { extensionId?: string }): vscode.Disposable;
  createPythonEnvironmentItem(info: EnvInfo, manager: EnvManager): EnvItem;
}

interface EnvInfo {
  readonly name: string;
  readonly displayName: string;
  readonly displayPath: string;
  readonly version: string;
  readonly environmentPath: vscode.Uri;
  readonly description?: string;
  readonly execInfo: { run: { executable: string } };
  readonly sysPrefix: string;
}

interface EnvItem extends EnvInfo {
  readonly envId: { id: string; managerId: string };
}

interface EnvManager {
  readonly name: string;
  readonly displayName: string;
  readonly preferredPackageManagerId: string;
  readonly description: string;
  refresh(scope: vscode.Uri | undefined): Promise<void>;
  getEnvironments(scope: vscode.Uri | 'all' | 'global'): Promise<EnvItem[]>;
  readonly onDidChangeEnvironments: vscode.Event<unknown>;
  set(scope: vscode.Uri | vscode.Uri[] | undefined, environment?: EnvItem): Promise<void>;
  get(scope: vscode.Uri | undefined): Promise<EnvItem | undefined>;
  resolve(context: vscode.Uri): Promise<EnvItem | undefined>;
}

function isPythonApi(value: unknown): value is PythonExtensionApi {
  const env = (value as { environments?: unknown } | undefined)?.environments as
    | Record<string, unknown>
    | undefined;
  return (
    typeof env === 'object' &&
    env !== null &&
    typeof env['getActiveEnvironmentPath'] === 'function' &&
    typeof env['updateActiveEnvironmentPath'] === 'function'
  );
}

function isEnvsApi(value: unknown): value is EnvsApi {
  const api = value as Record<string, unknown> | undefined;
  return (
    typeof api === 'object' &&
    api !== null &&
    typeof api['registerEnvironmentManager'] === 'function' &&
    typeof api['createPythonEnvironmentItem'] === 'function'
  );
}

async function exportsOf(id: string): Promise<unknown> {
  const ext = vscode.extensions.getExtension<unknown>(id);
  if (ext === undefined) {
    return undefined;
  }
  return ext.isActive ? ext.exports : await ext.activate();
}

/** The Python extension, when installed. */
export class PythonBridge {
  constructor(private readonly log: vscode.LogOutputChannel) {}

  private async api(): Promise<PythonExtensionApi | undefined> {
    try {
      const api = await exportsOf(PYTHON_EXTENSION);
      if (!isPythonApi(api)) {
        return undefined;
      }
      await api.ready;
      return api;
    } catch (error) {
      this.log.warn(`Python extension unavailable: ${String(error)}`);
      return undefined;
    }
  }

  get installed(): boolean {
    return vscode.extensions.getExtension(PYTHON_EXTENSION) !== undefined;
  }

  /** The interpreter the Python extension selected for `resource`. */
  async activeInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
    const api = await this.api();
    const found = api?.environments.getActiveEnvironmentPath(resource)?.path;
    return found === undefined || found === '' ? undefined : found;
  }

  /** Makes `interpreter` the workspace folder's Python interpreter; false without the extension. */
  async setActiveInterpreter(interpreter: string, folder: vscode.Uri): Promise<boolean> {
    const api = await this.api();
    if (api === undefined) {
      return false;
    }
    await api.environments.updateActiveEnvironmentPath(interpreter, folder);
    this.log.info(`Python interpreter for ${folder.fsPath} set to ${interpreter}`);
    return true;
  }
}

/** A composition of a workspace folder, as the server lists it (`envlayers.listCompositions`). */
export interface FolderComposition extends Composition {
  readonly folder: string;
}

/** Asks the server for a folder's compositions; the extension never reads `.envlayers/` itself. */
export type CompositionLister = (folder: string) => Promise<readonly Composition[]>;

/** The usable compositions of a folder (damaged ones are left out); [] when the server fails. */
export async function listCompositions(
  list: CompositionLister,
  folder: string,
  log: vscode.LogOutputChannel,
): Promise<FolderComposition[]> {
  try {
    const rows = await list(folder);
    return rows.filter((c) => c.valid).map((c) => ({ ...c, folder }));
  } catch (error) {
    log.warn(`Could not list the compositions of ${folder}: ${String(error)}`);
    return [];
  }
}

/** Registers an environment manager with the Python Environments extension, when present. */
export async function registerEnvironmentManager(
  store: ReportStore,
  log: vscode.LogOutputChannel,
  list: CompositionLister,
): Promise<vscode.Disposable | undefined> {
  let api: unknown;
  try {
    api = await exportsOf(PYTHON_ENVS_EXTENSION);
  } catch (error) {
    log.warn(`Python Environments extension unavailable: ${String(error)}`);
    return undefined;
  }
  if (!isEnvsApi(api)) {
    return undefined;
  }
  const envsApi = api;
  const changed = new vscode.EventEmitter<unknown>();
  const selected = new Map<string, EnvItem>();
  const folders = (scope: vscode.Uri | 'all' | 'global' | undefined): string[] => {
    if (scope === 'global') return [];
    if (scope === undefined || scope === 'all') {
      return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    }
    const folder = vscode.workspace.getWorkspaceFolder(scope);
    return folder === undefined ? [] : [folder.uri.fsPath];
  };
  // A composition runs the workspace's base Python: the folder's report knows its version.
  const item = (c: FolderComposition): EnvItem =>
    envsApi.createPythonEnvironmentItem(
      {
        name: c.name,
        displayName: `${c.name} (Env Layers)`,
        displayPath: c.path,
        version: store.get(c.folder)?.pythonVersion ?? '',
        environmentPath: vscode.Uri.file(c.interpreter),
        description: `${path.basename(c.folder)}${c.active ? ' (active)' : ''}`,
        execInfo: { run: { executable: c.interpreter } },
        sysPrefix: c.path,
      },
      manager,
    );
  const compositions = (folder: string): Promise<FolderComposition[]> => listCompositions(list, folder, log);
  const manager: EnvManager = {
    name: 'envlayers',
    displayName: 'Env Layers',
    preferredPackageManagerId: 'ms-python.python:pip',
    description: 'Compositions of the workspace environment and cached --with layers',
    refresh: async () => changed.fire([]),
    getEnvironments: async (scope) => {
      const lists = await Promise.all(folders(scope).map(compositions));
      return lists.flat().map(item);
    },
    onDidChangeEnvironments: changed.event,
    set: async (scope, environment) => {
      const scopes = scope === undefined ? [] : Array.isArray(scope) ? scope : [scope];
      for (const s of scopes) {
        if (environment === undefined) selected.delete(s.fsPath);
        else selected.set(s.fsPath, environment);
      }
    },
    get: async (scope) => (scope === undefined ? undefined : selected.get(scope.fsPath)),
    resolve: async (context) => {
      const all = (await Promise.all(folders('all').map(compositions))).flat();
      const hit = all.find((c) => c.interpreter === context.fsPath || c.path === context.fsPath);
      return hit === undefined ? undefined : item(hit);
    },
  };
  const registration = envsApi.registerEnvironmentManager(manager, { extensionId: 'envlayers.envlayers' });
  const subscription = store.onDidChange(() => changed.fire([]));
  log.info('Registered the Env Layers environment manager with the Python Environments extension');
  return vscode.Disposable.from(registration, subscription, changed);
}
