// The latest report of each workspace, fed by command results and the server's
// `envlayers/environmentChanged` notifications; the status bar and report view read it.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Report } from './protocol';

function norm(p: string): string {
  return path.resolve(p);
}

export class ReportStore implements vscode.Disposable {
  private readonly reports = new Map<string, Report>();
  /** Single-file scripts' reports, by the script's path (never a folder's fallback). */
  private readonly scripts = new Map<string, Report>();
  private readonly emitter = new vscode.EventEmitter<Report | undefined>();
  readonly onDidChange: vscode.Event<Report | undefined> = this.emitter.event;

  /** Records a report; `folder` is the folder it was asked for when it differs from the project. */
  set(report: Report, folder?: string): void {
    this.reports.set(norm(report.workspace), report);
    if (report.script !== null && report.script !== undefined) this.scripts.set(norm(report.script), report);
    if (folder !== undefined) {
      this.reports.set(norm(folder), report);
    }
    this.emitter.fire(report);
  }

  /** Forgets a workspace's report (the server could not compute one). */
  delete(workspace: string): void {
    const key = norm(workspace);
    const old = this.reports.get(key) ?? this.scripts.get(key);
    if (old === undefined) return;
    for (const [k, v] of [...this.reports]) if (v === old) this.reports.delete(k);
    for (const [k, v] of [...this.scripts]) if (v === old) this.scripts.delete(k);
    this.emitter.fire(undefined);
  }

  /** The report for a folder: its own, else the one of the project that contains it. */
  get(folder: string): Report | undefined {
    const key = norm(folder);
    const exact = this.reports.get(key);
    if (exact !== undefined) {
      return exact;
    }
    let best: Report | undefined;
    let bestLength = -1;
    for (const [workspace, report] of this.reports) {
      const inside = key === workspace || key.startsWith(workspace + path.sep);
      if (inside && workspace.length > bestLength) {
        best = report;
        bestLength = workspace.length;
      }
    }
    return best;
  }

  /** The report of a single-file script, by its path (exact: a script is not its project). */
  getScript(script: string): Report | undefined {
    return this.scripts.get(norm(script));
  }

  all(): Report[] {
    return [...new Set(this.reports.values())];
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** The folder the user is working in: the active editor's, else the first one. */
export function currentFolder(): vscode.WorkspaceFolder | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor !== undefined) {
    const folder = vscode.workspace.getWorkspaceFolder(editor.document.uri);
    if (folder !== undefined) {
      return folder;
    }
  }
  return vscode.workspace.workspaceFolders?.[0];
}
