// Shared fixtures: a SPEC-shaped report and a fake server connection (the one injectable seam).
import './shim/register';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Report, ServerCommand } from '../src/protocol';
import type { LaunchPlan, ServerConnection } from '../src/server';
import type { ProgressSource, ProgressToken, ProgressValue } from '../src/progress';
import { harness } from './shim/vscode';

export const WS = path.resolve('/tmp/envlayers-fixture/project');

export function sampleReport(overrides: Partial<Report> = {}): Report {
  const composed = path.join(WS, '.envlayers', 'with-1a2b3c4d');
  return {
    schemaVersion: 1,
    workspace: WS,
    script: null,
    name: 'with-1a2b3c4d',
    interpreter: path.join(composed, 'bin', 'python'),
    baseInterpreter: path.join(WS, '.venv', 'bin', 'python'),
    pythonVersion: '3.11.7',
    virtualEnv: composed,
    sysPath: ['/cache/layers/v1/k1/lib/python3.11/site-packages', path.join(WS, '.venv/lib/python3.11/site-packages')],
    pythonPath: `/cache/layers/v1/k1/lib/python3.11/site-packages:${path.join(WS, '.venv/lib/python3.11/site-packages')}`,
    pathPrefix: [path.join(composed, 'bin'), path.join(WS, '.venv', 'bin')],
    env: { VIRTUAL_ENV: composed, PATH: `${path.join(composed, 'bin')}:/usr/bin` },
    layers: [
      {
        key: 'k1',
        path: '/cache/layers/v1/k1',
        requirements: ['rich>=13'],
        packages: { rich: '13.7.1', pygments: '2.18.0' },
        reused: false,
      },
    ],
    satisfiedByBase: [],
    conflicts: [],
    sync: { state: 'in-sync', installed: [], removed: [], extraneous: [] },
    warnings: [],
    ...overrides,
  };
}

type Handler = (arg: any) => unknown;

/** A fake server: answers commands from a table and records what it was asked. */
export class FakeConnection implements ServerConnection, ProgressSource {
  readonly calls: { command: ServerCommand; arg: any }[] = [];
  readonly handlers = new Map<string, Handler>();
  private readonly notificationListeners = new Map<string, ((p: unknown) => void)[]>();
  private created: ((t: ProgressToken) => void) | undefined;
  private readonly progressListeners = new Map<ProgressToken, (v: ProgressValue) => void>();
  readonly cancelled: ProgressToken[] = [];
  stopped = false;
  readonly progress: ProgressSource = this;

  constructor(handlers: Record<string, Handler> = {}) {
    for (const [k, v] of Object.entries(handlers)) this.handlers.set(k, v);
  }

  async request(command: ServerCommand, arg: unknown): Promise<unknown> {
    this.calls.push({ command, arg });
    const handler = this.handlers.get(command);
    if (handler === undefined) {
      throw { code: -32603, message: `no handler for ${command}` };
    }
    return handler(arg);
  }

  onNotification(method: string, listener: (params: unknown) => void): vscode.Disposable {
    const list = this.notificationListeners.get(method) ?? [];
    list.push(listener);
    this.notificationListeners.set(method, list);
    return new vscode.Disposable(() => list.splice(list.indexOf(listener), 1));
  }

  notify(method: string, params: unknown): void {
    for (const l of this.notificationListeners.get(method) ?? []) l(params);
  }

  onProgressCreated(listener: (token: ProgressToken) => void): vscode.Disposable {
    this.created = listener;
    return new vscode.Disposable(() => (this.created = undefined));
  }

  onProgress(token: ProgressToken, listener: (value: ProgressValue) => void): vscode.Disposable {
    this.progressListeners.set(token, listener);
    return new vscode.Disposable(() => this.progressListeners.delete(token));
  }

  cancelProgress(token: ProgressToken): void {
    this.cancelled.push(token);
  }

  createProgress(token: ProgressToken): void {
    this.created?.(token);
  }

  sendProgress(token: ProgressToken, value: ProgressValue): void {
    this.progressListeners.get(token)?.(value);
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** A minimal ExtensionContext for activateWith. */
export function fakeContext(extensionPath = '/nonexistent/extension'): vscode.ExtensionContext {
  const state = new Map<string, unknown>();
  const globalState = {
    get: <T>(key: string, fallback?: T): T | undefined => (state.has(key) ? (state.get(key) as T) : fallback),
    update: async (key: string, value: unknown): Promise<void> => {
      state.set(key, value);
    },
    keys: () => [...state.keys()],
    setKeysForSync: () => undefined,
  };
  return { subscriptions: [], extensionPath, globalState } as unknown as vscode.ExtensionContext;
}

export function memento(): vscode.Memento {
  return fakeContext().globalState;
}

export const FAKE_PLAN: LaunchPlan = { command: '/usr/bin/python3', args: ['-m', 'envlayers', 'serve', '--stdio'], source: 'setting' };

export function resetShim(): typeof harness {
  harness.reset();
  return harness;
}

export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
