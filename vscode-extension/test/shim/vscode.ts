// A small stand-in for the `vscode` module: just what the extension uses, with a `harness`
// that tests use to script answers and read what was shown. Only VS Code itself is faked.
/* eslint-disable @typescript-eslint/no-explicit-any */
import * as nodePath from 'node:path';
import { promises as fs } from 'node:fs';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const i of items) i.dispose();
    });
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(value: T): void {
    for (const l of [...this.listeners]) l(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', '', nodePath.resolve(p), '', '');
  }
  static from(c: { scheme: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '', c.query ?? '', c.fragment ?? '');
  }
  static parse(text: string): Uri {
    const url = new URL(text);
    return new Uri(url.protocol.replace(/:$/, ''), url.host, decodeURIComponent(url.pathname), url.search.replace(/^\?/, ''), url.hash.replace(/^#/, ''));
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, base.authority, nodePath.posix.join(base.path, ...parts), '', '');
  }
  get fsPath(): string {
    return this.path;
  }
  with(change: { query?: string; path?: string }): Uri {
    return new Uri(this.scheme, this.authority, change.path ?? this.path, change.query ?? this.query, this.fragment);
  }
  toString(): string {
    return `${this.scheme}://${this.authority}${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum DebugConfigurationProviderTriggerKind {
  Initial = 1,
  Dynamic = 2,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

// ---- test harness -------------------------------------------------------------------------

export interface Shown {
  level: 'info' | 'warning' | 'error';
  message: string;
  items: string[];
}

export interface ProgressRun {
  options: any;
  reports: any[];
  token: CancellationTokenSource;
  done: boolean;
}

class StatusBarItemShim {
  text = '';
  tooltip: unknown = '';
  command: unknown;
  name = '';
  backgroundColor: ThemeColor | undefined;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
  }
}

class LogChannelShim {
  readonly lines: string[] = [];
  shown = false;
  constructor(readonly name: string) {}
  private push(level: string, msg: string): void {
    this.lines.push(`[${level}] ${msg}`);
  }
  trace(m: string): void { this.push('trace', m); }
  debug(m: string): void { this.push('debug', m); }
  info(m: string): void { this.push('info', m); }
  warn(m: string): void { this.push('warn', m); }
  error(m: unknown): void { this.push('error', String(m)); }
  append(m: string): void { this.lines.push(m); }
  appendLine(m: string): void { this.lines.push(m); }
  replace(m: string): void { this.lines.splice(0, this.lines.length, m); }
  clear(): void { this.lines.length = 0; }
  show(): void { this.shown = true; }
  hide(): void { this.shown = false; }
  dispose(): void {}
  readonly onDidChangeLogLevel = new EventEmitter<number>().event;
  logLevel = 2;
}

/** Scripted answers: a function gets the prompt and returns the answer. */
type Answer = (prompt: { kind: string; message?: string; items?: unknown[]; options?: any }) => unknown;

export const harness = {
  commands: new Map<string, (...args: any[]) => unknown>(),
  executed: [] as { id: string; args: unknown[] }[],
  shown: [] as Shown[],
  answers: [] as Answer[],
  statusItems: [] as StatusBarItemShim[],
  channels: [] as LogChannelShim[],
  progress: [] as ProgressRun[],
  debugProviders: [] as { type: string; provider: any; trigger: DebugConfigurationProviderTriggerKind }[],
  contentProviders: new Map<string, any>(),
  settings: new Map<string, unknown>(),
  settingUpdates: [] as { key: string; value: unknown; target: unknown }[],
  extensions: new Map<string, any>(),
  clipboard: '',
  trusted: true,
  folders: [] as { uri: Uri; name: string; index: number }[],
  activeEditor: undefined as any,
  openedDocuments: [] as string[],
  trustEmitter: new EventEmitter<void>(),
  configEmitter: new EventEmitter<any>(),
  editorEmitter: new EventEmitter<any>(),
  documentEmitter: new EventEmitter<any>(),
  textDocuments: [] as any[],
  reset(): void {
    this.commands.clear();
    this.executed = [];
    this.shown = [];
    this.answers = [];
    this.statusItems = [];
    this.channels = [];
    this.progress = [];
    this.debugProviders = [];
    this.contentProviders.clear();
    this.settings.clear();
    this.settingUpdates = [];
    this.extensions.clear();
    this.clipboard = '';
    this.trusted = true;
    this.folders = [];
    this.activeEditor = undefined;
    this.openedDocuments = [];
    this.trustEmitter = new EventEmitter<void>();
    this.configEmitter = new EventEmitter<any>();
    this.editorEmitter = new EventEmitter<any>();
    this.documentEmitter = new EventEmitter<any>();
    this.textDocuments = [];
  },
  /** Queues answers for the next prompts (message buttons, input boxes, quick picks). */
  answer(...answers: unknown[]): void {
    for (const a of answers) this.answers.push(typeof a === 'function' ? (a as Answer) : () => a);
  },
  addFolder(fsPath: string): void {
    this.folders.push({ uri: Uri.file(fsPath), name: nodePath.basename(fsPath), index: this.folders.length });
  },
  /** Fires a configuration change for the given keys (after updating `settings`). */
  changeSettings(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) this.settings.set(k, v);
    const keys = Object.keys(values);
    this.configEmitter.fire({
      affectsConfiguration: (section: string) => keys.some((k) => k === section || k.startsWith(`${section}.`)),
    });
  },
  grantTrust(): void {
    this.trusted = true;
    this.trustEmitter.fire();
  },
};

function nextAnswer(prompt: Parameters<Answer>[0]): unknown {
  const answer = harness.answers.shift();
  return answer === undefined ? undefined : answer(prompt);
}

function show(level: Shown['level']) {
  return async (message: string, ...rest: unknown[]): Promise<unknown> => {
    const items = rest.filter((r): r is string => typeof r === 'string');
    harness.shown.push({ level, message, items });
    return items.length === 0 ? undefined : nextAnswer({ kind: 'message', message, items });
  };
}

export const commands = {
  registerCommand(id: string, handler: (...args: any[]) => unknown): Disposable {
    if (harness.commands.has(id)) {
      // VS Code's own behaviour: a second registration of an id is an error.
      throw new Error(`command '${id}' already exists`);
    }
    harness.commands.set(id, handler);
    return new Disposable(() => harness.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    harness.executed.push({ id, args });
    const handler = harness.commands.get(id);
    return handler === undefined ? undefined : handler(...args);
  },
  async getCommands(): Promise<string[]> {
    return [...harness.commands.keys()];
  },
};

export const window = {
  get activeTextEditor(): any {
    return harness.activeEditor;
  },
  onDidChangeActiveTextEditor: (l: Listener<any>) => harness.editorEmitter.event(l),
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number): StatusBarItemShim {
    const item = new StatusBarItemShim(id, alignment, priority);
    harness.statusItems.push(item);
    return item;
  },
  createOutputChannel(name: string): LogChannelShim {
    const channel = new LogChannelShim(name);
    harness.channels.push(channel);
    return channel;
  },
  showInformationMessage: show('info'),
  showWarningMessage: show('warning'),
  showErrorMessage: show('error'),
  async showInputBox(options: any): Promise<string | undefined> {
    const value = nextAnswer({ kind: 'input', options }) as string | undefined;
    if (value !== undefined && typeof options?.validateInput === 'function') {
      const problem = await options.validateInput(value);
      if (problem) return undefined;
    }
    return value;
  },
  async showQuickPick(items: any, options: any): Promise<unknown> {
    const list = await items;
    return nextAnswer({ kind: 'quickPick', items: list, options });
  },
  async withProgress<R>(options: any, task: (progress: any, token: any) => Promise<R>): Promise<R> {
    const run: ProgressRun = { options, reports: [], token: new CancellationTokenSource(), done: false };
    harness.progress.push(run);
    try {
      return await task({ report: (v: unknown) => run.reports.push(v) }, run.token.token);
    } finally {
      run.done = true;
    }
  },
  async showTextDocument(doc: any): Promise<unknown> {
    return doc;
  },
};

export const workspace = {
  get isTrusted(): boolean {
    return harness.trusted;
  },
  onDidGrantWorkspaceTrust: (l: Listener<void>) => harness.trustEmitter.event(l),
  onDidChangeConfiguration: (l: Listener<any>) => harness.configEmitter.event(l),
  onDidChangeTextDocument: (l: Listener<any>) => harness.documentEmitter.event(l),
  get textDocuments(): any[] {
    return harness.textDocuments;
  },
  get workspaceFolders(): typeof harness.folders | undefined {
    return harness.folders.length === 0 ? undefined : harness.folders;
  },
  getWorkspaceFolder(uri: Uri): (typeof harness.folders)[number] | undefined {
    return harness.folders.find((f) => uri.fsPath === f.uri.fsPath || uri.fsPath.startsWith(f.uri.fsPath + nodePath.sep));
  },
  getConfiguration(section?: string) {
    const full = (key: string): string => (section ? `${section}.${key}` : key);
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        return harness.settings.has(full(key)) ? (harness.settings.get(full(key)) as T) : fallback;
      },
      has(key: string): boolean {
        return harness.settings.has(full(key));
      },
      async update(key: string, value: unknown, target?: unknown): Promise<void> {
        harness.settings.set(full(key), value);
        harness.settingUpdates.push({ key: full(key), value, target });
      },
    };
  },
  fs: {
    async readFile(uri: Uri): Promise<Uint8Array> {
      return fs.readFile(uri.fsPath);
    },
  },
  registerTextDocumentContentProvider(scheme: string, provider: any): Disposable {
    harness.contentProviders.set(scheme, provider);
    return new Disposable(() => harness.contentProviders.delete(scheme));
  },
  async openTextDocument(uri: Uri): Promise<{ uri: Uri; getText(): string }> {
    const provider = harness.contentProviders.get(uri.scheme);
    const text: string = provider ? await provider.provideTextDocumentContent(uri) : await fs.readFile(uri.fsPath, 'utf8');
    harness.openedDocuments.push(text);
    return { uri, getText: () => text };
  },
  createFileSystemWatcher(): Disposable {
    return new Disposable();
  },
};

export const debug = {
  registerDebugConfigurationProvider(
    type: string,
    provider: any,
    trigger: DebugConfigurationProviderTriggerKind = DebugConfigurationProviderTriggerKind.Initial,
  ): Disposable {
    const entry = { type, provider, trigger };
    harness.debugProviders.push(entry);
    return new Disposable(() => harness.debugProviders.splice(harness.debugProviders.indexOf(entry), 1));
  },
};

export const extensions = {
  getExtension(id: string): any {
    return harness.extensions.get(id);
  },
};

export const env = {
  clipboard: {
    async readText(): Promise<string> {
      return harness.clipboard;
    },
    async writeText(text: string): Promise<void> {
      harness.clipboard = text;
    },
  },
};
