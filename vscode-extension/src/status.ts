// The status bar item: the active composition at a glance, a warning look when the base is
// out of sync or a conflict exists, and a click that opens the report.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Report } from './protocol';

export type ServerState = 'starting' | 'running' | 'failed' | 'stopped';

export const SHOW_REPORT = 'envlayers.ui.showReport';
export const RESTART_SERVER = 'envlayers.ui.restartServer';
export const USE_SCRIPT = 'envlayers.ui.useScriptEnvironment';

export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly look: 'normal' | 'warning' | 'error';
  readonly command: string;
}

/** "base", "base + 1 layer", "notebook: base + 2 layers". */
export function summarize(report: Report): string {
  const n = report.layers.length;
  const stack = n === 0 ? 'base' : `base + ${n} layer${n === 1 ? '' : 's'}`;
  const name = compositionName(report);
  return name === undefined ? stack : `${name}: ${stack}`;
}

/** The composed env's folder name under `.envlayers/` (the profile or `with-<hash>`). */
export function compositionName(report: Report): string | undefined {
  const parent = path.basename(path.dirname(report.virtualEnv));
  if (parent !== '.envlayers') {
    return undefined;
  }
  const name = path.basename(report.virtualEnv);
  // Ad-hoc stacks are named with a hash, which tells the user nothing.
  return name.startsWith('with-') ? undefined : name;
}

export function problems(report: Report): string[] {
  const out: string[] = [];
  if (report.sync.state === 'out-of-sync') {
    out.push('the workspace environment is out of sync with pyproject.toml');
  } else if (report.sync.state === 'missing') {
    out.push('the workspace environment does not exist yet');
  }
  const n = report.conflicts.length;
  if (n > 0) {
    out.push(`${n} version conflict${n === 1 ? '' : 's'} between layers and the base`);
  }
  return out;
}

/** Pure: the status bar for a single-file script (PEP 723) that is the active editor. */
export function describeScriptStatus(script: string, report: Report | undefined): StatusView {
  const file = path.basename(script);
  if (report === undefined) {
    return {
      text: `$(layers) ${file}: no environment`,
      tooltip: `Env Layers: ${file} has inline metadata (a \`# /// script\` block) but no environment yet.\nClick to compose it (Use Script Environment).`,
      look: 'normal',
      command: USE_SCRIPT,
    };
  }
  const n = report.layers.length;
  const stack = n === 0 ? 'no dependencies' : `${n} layer${n === 1 ? '' : 's'}`;
  const issues = report.conflicts.length > 0 ? [`${report.conflicts.length} version conflict(s) between layers`] : [];
  return {
    text: `${issues.length > 0 ? '$(warning)' : '$(layers)'} ${file}: ${stack}`,
    tooltip: [
      `Env Layers: the environment of the script ${script}`,
      `Python ${report.pythonVersion}: ${report.interpreter}`,
      ...issues.map((p) => `Warning: ${p}`),
      'Click to compose it again and use it as the interpreter.',
    ].join('\n'),
    look: issues.length > 0 ? 'warning' : 'normal',
    command: USE_SCRIPT,
  };
}

/** Pure: what the status bar shows; `installer` is the server's installer line, once running. */
export function describeStatus(
  state: ServerState,
  report: Report | undefined,
  installer?: string,
  script?: string,
): StatusView {
  if (state === 'starting') {
    return {
      text: '$(sync~spin) Env Layers',
      tooltip: 'Env Layers: starting the server…',
      look: 'normal',
      command: SHOW_REPORT,
    };
  }
  if (state === 'failed' || state === 'stopped') {
    return {
      text: '$(error) Env Layers',
      tooltip: 'Env Layers: the server is not running. Click to restart it (see the "Env Layers" output).',
      look: 'error',
      command: RESTART_SERVER,
    };
  }
  if (script !== undefined) return describeScriptStatus(script, report);
  const installerLines = installer === undefined ? [] : [installer];
  if (report === undefined) {
    return {
      text: '$(layers) Env Layers',
      tooltip: ['Env Layers: no composition yet.', ...installerLines, 'Click to show the environment.'].join(installer === undefined ? ' ' : '\n'),
      look: 'normal',
      command: SHOW_REPORT,
    };
  }
  const issues = problems(report);
  const lines = [
    `Env Layers: ${summarize(report)}`,
    `Python ${report.pythonVersion}: ${report.interpreter}`,
    ...issues.map((p) => `Warning: ${p}`),
    ...installerLines,
    'Click to show the composed environment.',
  ];
  return {
    text: `${issues.length > 0 ? '$(warning)' : '$(layers)'} ${summarize(report)}`,
    tooltip: lines.join('\n'),
    look: issues.length > 0 ? 'warning' : 'normal',
    command: SHOW_REPORT,
  };
}

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private state: ServerState = 'starting';
  private report: Report | undefined;
  private installer: string | undefined;
  private script: string | undefined;

  constructor(private enabled: boolean) {
    this.item = vscode.window.createStatusBarItem('envlayers.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'Env Layers';
    this.render();
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    this.render();
  }

  setState(state: ServerState): void {
    this.state = state;
    this.render();
  }

  setReport(report: Report | undefined): void {
    this.report = report;
    this.render();
  }

  /** The active editor's script with inline metadata (its report is then the script's). */
  setScript(script: string | undefined): void {
    this.script = script;
    this.render();
  }

  /** The installer line of the tooltip ("Installer: uv (/usr/bin/uv, from the PATH)..."). */
  setInstaller(summary: string | undefined): void {
    this.installer = summary;
    this.render();
  }

  current(): StatusView {
    return describeStatus(this.state, this.report, this.installer, this.script);
  }

  private render(): void {
    const view = this.current();
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.look === 'normal'
        ? undefined
        : new vscode.ThemeColor(
            view.look === 'warning' ? 'statusBarItem.warningBackground' : 'statusBarItem.errorBackground',
          );
    if (this.enabled) {
      this.item.show();
    } else {
      this.item.hide();
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
