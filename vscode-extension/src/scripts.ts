// Single-file scripts (PEP 723): a Python file with a `# /// script` block has its own
// environment. The status bar shows it while the script is the active editor; "Env Layers: Use
// Script Environment" composes it (server command `envlayers.compose` with `script`) and offers
// its interpreter; the debug provider launches such a file with it.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ArgsOf, Report, ResultOf, ServerCommand } from './protocol';

import { USE_SCRIPT } from './status';

export const USE_SCRIPT_ENVIRONMENT = USE_SCRIPT;

// PEP 723's reference expression (the server parses the block; this only detects it).
const BLOCK = /^# \/\/\/ script$\s(?:^#(?:| .*)$\s)+^# \/\/\/$/m;

/** Whether `text` carries a well-formed `# /// script` block. */
export function hasScriptBlock(text: string): boolean {
  return BLOCK.test(text.replace(/\r\n/g, '\n'));
}

/** The file of a document that is a script with inline metadata, else undefined. */
export function scriptOfDocument(document: vscode.TextDocument | undefined): string | undefined {
  if (document === undefined || document.uri.scheme !== 'file') return undefined;
  const file = document.uri.fsPath;
  if (!/\.pyw?$/.test(file) && document.languageId !== 'python') return undefined;
  const text = typeof document.getText === 'function' ? document.getText() : '';
  return hasScriptBlock(text) ? file : undefined;
}

/** The active editor's script, when it has inline metadata. */
export function activeScript(): string | undefined {
  return scriptOfDocument(vscode.window.activeTextEditor?.document);
}

/** The script a launch configuration runs (`program` or `${file}`), when it has a block. */
export function scriptOfLaunch(config: vscode.DebugConfiguration): string | undefined {
  const program: unknown = config['program'];
  if (typeof program !== 'string' || program === '' || config['module'] !== undefined) return undefined;
  const editor = vscode.window.activeTextEditor?.document;
  if (program === '${file}') return scriptOfDocument(editor);
  if (program.includes('${')) return undefined;
  const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === path.resolve(program));
  return open === undefined ? undefined : scriptOfDocument(open);
}

/** What the script command needs (injected, so tests can fake it). */
export interface ScriptDeps {
  execute<K extends ServerCommand>(command: K, args: ArgsOf<K>, token?: vscode.CancellationToken): Promise<ResultOf<K>>;
  remember(report: Report): void;
  offerInterpreter(report: Report, workspace: string): Promise<boolean>;
  requireTrust(what: string): Promise<boolean>;
  onError(error: unknown): void;
}

/** The folder a script's interpreter is offered for: its workspace folder, else its own. */
export function scriptFolder(script: string): string {
  return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(script))?.uri.fsPath ?? path.dirname(script);
}

/** "Env Layers: Use Script Environment": compose the active script's env, offer its interpreter. */
export async function useScriptEnvironment(deps: ScriptDeps, script = activeScript()): Promise<Report | undefined> {
  if (script === undefined) {
    void vscode.window.showWarningMessage(
      'Env Layers: the active editor is not a script with inline metadata (a `# /// script` block).',
    );
    return undefined;
  }
  if (!(await deps.requireTrust("Composing a script's environment"))) return undefined;
  const folder = scriptFolder(script);
  let report: Report;
  try {
    report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Env Layers: composing ${path.basename(script)}` },
      () => deps.execute('envlayers.compose', { workspace: folder, script }),
    );
  } catch (error) {
    deps.onError(error);
    return undefined;
  }
  deps.remember(report);
  await deps.offerInterpreter(report, folder);
  return report;
}
