// Activation wiring only: every behaviour lives in its own module.
import * as vscode from 'vscode';
import { Commands, reportError } from './commands';
import { EnvlayersDebugProvider, registerDebugProvider } from './debug';
import { PythonBridge, registerEnvironmentManager } from './python';
import { REPORT_SCHEME, ReportDocuments, showReportDocument } from './reportView';
import {
  type Connect,
  type Probe,
  ServerManager,
  connectLanguageClient,
  probePython,
  pythonsOnPath,
} from './server';
import { affectsServer, readSettings, serverSettingsView } from './settings';
import { activeScript } from './scripts';
import { ReportStore, currentFolder } from './state';
import { StatusBar } from './status';
import { TrustGate } from './trust';

export interface ExtensionDeps {
  readonly connect: Connect;
  readonly probe: Probe;
  readonly pathPythons: () => readonly string[];
}

/** What activation returns (also handy for tests and other extensions). */
export interface EnvlayersApi {
  readonly server: ServerManager;
  readonly store: ReportStore;
  readonly status: StatusBar;
  readonly commands: Commands;
  readonly debugProvider: EnvlayersDebugProvider;
  /** Settles once the first server start has succeeded or failed. */
  readonly ready: Promise<void>;
}

let active: ServerManager | undefined;

export function activate(context: vscode.ExtensionContext): Promise<EnvlayersApi> {
  return activateWith(context, { connect: connectLanguageClient, probe: probePython, pathPythons: () => pythonsOnPath() });
}

export async function activateWith(context: vscode.ExtensionContext, deps: ExtensionDeps): Promise<EnvlayersApi> {
  const log = vscode.window.createOutputChannel('Env Layers', { log: true });
  const decoded = readSettings();
  let settings = decoded.settings;
  for (const warning of decoded.warnings) log.warn(warning);
  if (decoded.warnings.length > 0) void vscode.window.showWarningMessage(`Env Layers: ${decoded.warnings.join(' ')}`);

  const store = new ReportStore();
  const trust = new TrustGate();
  const status = new StatusBar(settings.statusBarEnabled);
  const python = new PythonBridge(log);
  const server = new ServerManager({
    log,
    extensionPath: context.extensionPath,
    settings: () => settings,
    pythonInterpreter: () => python.activeInterpreter(currentFolder()?.uri),
    connect: deps.connect,
    hooks: {
      allowCommand: (command) => trust.allowServerCommand(command),
      serverSettings: (raw) => serverSettingsView(raw, trust.trusted),
    },
    probe: deps.probe,
    pathPythons: deps.pathPythons,
    installerSetting: () => String(vscode.workspace.getConfiguration('envlayers').get<unknown>('installer') ?? 'auto'),
  });
  active = server;
  const docs = new ReportDocuments(store);
  const commands = new Commands({
    execute: (command, args, token) => server.execute(command, args, token),
    store,
    trust,
    settings: () => settings,
    memento: context.globalState,
    log,
    python,
    folder: currentFolder,
    showReport: showReportDocument,
    restartServer: () => server.restart(),
  });
  const debugProvider = new EnvlayersDebugProvider(
    (folder, token, script) =>
      server.execute(
        'envlayers.debugConfiguration',
        {
          workspace: (folder ?? currentFolder())?.uri.fsPath ?? process.cwd(),
          ...(script === undefined ? {} : { script }),
        },
        token,
      ),
    (error) => reportError(log, error),
  );
  const refreshStatus = (): void => {
    const script = activeScript();
    status.setScript(script);
    if (script !== undefined) {
      status.setReport(store.getScript(script));
      return;
    }
    const folder = currentFolder();
    status.setReport(folder === undefined ? undefined : store.get(folder.uri.fsPath));
  };

  context.subscriptions.push(
    log,
    store,
    status,
    server,
    docs,
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, docs),
    ...commands.register(),
    ...registerDebugProvider(debugProvider),
    server.onDidChangeState((state) => {
      status.setInstaller(server.installer?.summary);
      status.setState(state);
      const folder = currentFolder();
      if (state === 'running' && folder !== undefined) {
        // Seeds the status bar; the report is computed without installing anything.
        void commands.report(folder.uri.fsPath).catch((error: unknown) => log.warn(`No report yet: ${String(error)}`));
      }
    }),
    server.onEnvironmentChanged((event) => {
      if (event.report === null) store.delete(event.script ?? event.workspace);
      else store.set(event.report);
    }),
    store.onDidChange(refreshStatus),
    // New trust changes what the server may do unasked (auto-sync): give it fresh settings.
    trust.onDidGrant(() => server.scheduleRestart()),
    vscode.window.onDidChangeActiveTextEditor(refreshStatus),
    // Typing a `# /// script` block (or removing it) changes what the status bar is about.
    vscode.workspace.onDidChangeTextDocument((event) => {
      if (event.document === vscode.window.activeTextEditor?.document) refreshStatus();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('envlayers')) return;
      const next = readSettings();
      for (const warning of next.warnings) log.warn(warning);
      settings = next.settings;
      status.setEnabled(settings.statusBarEnabled);
      if (affectsServer(event)) server.scheduleRestart();
    }),
  );
  void registerEnvironmentManager(store, log, (folder) =>
    server.execute('envlayers.listCompositions', { workspace: folder }),
  ).then((d) => {
    if (d !== undefined) context.subscriptions.push(d);
  });
  const ready = server.start();
  return { server, store, status, commands, debugProvider, ready };
}

export async function deactivate(): Promise<void> {
  const server = active;
  active = undefined;
  await server?.stop();
}
