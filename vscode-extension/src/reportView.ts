// A readable view of the report: a pure markdown rendering, served as a virtual document.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Report } from './protocol';
import type { ReportStore } from './state';
import { problems, summarize } from './status';

export const REPORT_SCHEME = 'envlayers-report';

/** Escapes text for a markdown table cell or inline code. */
function code(text: string): string {
  const ticks = text.includes('`') ? '``' : '`';
  return `${ticks}${text.replace(/\|/g, '\\|')}${ticks}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const SYNC_TEXT = {
  'in-sync': 'in sync with pyproject.toml',
  'out-of-sync': 'out of sync with pyproject.toml (run "Env Layers: Sync Workspace Environment")',
  missing: 'missing (run "Env Layers: Sync Workspace Environment")',
} as const;

/** Pure: the report as markdown. */
export function renderReport(report: Report): string {
  const out: string[] = [];
  out.push(`# Env Layers: ${path.basename(report.workspace)}`, '');
  out.push(`**${summarize(report)}**`, '');
  for (const issue of problems(report)) {
    out.push(`> **Warning:** ${issue}`, '');
  }
  out.push('| | |', '| --- | --- |');
  out.push(`| Interpreter | ${code(report.interpreter)} |`);
  out.push(`| Python | ${cell(report.pythonVersion)} |`);
  out.push(`| VIRTUAL_ENV | ${code(report.virtualEnv)} |`);
  out.push(`| Base interpreter | ${code(report.baseInterpreter)} |`);
  out.push(`| Workspace | ${code(report.workspace)} |`);
  out.push(`| Base environment | ${SYNC_TEXT[report.sync.state]} |`);
  out.push('');

  const s = report.sync;
  if (s.installed.length + s.removed.length + s.extraneous.length > 0) {
    out.push('## Last sync', '');
    if (s.installed.length > 0) out.push(`- Installed: ${s.installed.map(code).join(', ')}`);
    if (s.removed.length > 0) out.push(`- Removed: ${s.removed.map(code).join(', ')}`);
    if (s.extraneous.length > 0) out.push(`- Extraneous (kept): ${s.extraneous.map(code).join(', ')}`);
    out.push('');
  }

  out.push('## Layers (top first)', '');
  if (report.layers.length === 0) {
    out.push('_No layers: the base satisfies every request._', '');
  }
  report.layers.forEach((layer, i) => {
    out.push(`### ${i + 1}. ${layer.requirements.map(code).join(', ') || code(layer.key)}`, '');
    out.push(`Key ${code(layer.key)}${layer.reused ? ', reused from the cache' : ', built now'}; ${code(layer.path)}`, '');
    const names = Object.keys(layer.packages).sort();
    if (names.length > 0) {
      out.push('| Package | Version |', '| --- | --- |');
      for (const name of names) {
        out.push(`| ${cell(name)} | ${cell(layer.packages[name] ?? '')} |`);
      }
      out.push('');
    }
  });
  if (report.satisfiedByBase.length > 0) {
    out.push(`Already satisfied by the base (no layer needed): ${report.satisfiedByBase.map(code).join(', ')}`, '');
  }

  out.push('## Conflicts', '');
  if (report.conflicts.length === 0) {
    out.push('_None._', '');
  }
  for (const c of report.conflicts) {
    const shadows = c.shadows.map((sh) => `${cell(sh.version)} from ${code(sh.source)}`).join(', ');
    let line = `- **${cell(c.name)} ${cell(c.version)}** from ${code(c.source)} wins`;
    if (shadows !== '') line += ` over ${shadows}`;
    if (c.breaks.length > 0) line += `; no longer satisfies ${c.breaks.map(code).join(', ')}`;
    out.push(line);
  }
  if (report.conflicts.length > 0) out.push('');

  out.push('## Search path (after the standard library)', '');
  report.sysPath.forEach((dir, i) => out.push(`${i + 1}. ${code(dir)}`));
  out.push('');

  out.push('## Environment for terminals and debuggers', '');
  out.push('| Variable | Value |', '| --- | --- |');
  for (const [key, value] of Object.entries(report.env)) {
    out.push(`| ${cell(key)} | ${code(value)} |`);
  }
  out.push('');
  return out.join('\n');
}

/** The URI of a folder's report document. */
export function reportUri(folder: string): vscode.Uri {
  return vscode.Uri.from({
    scheme: REPORT_SCHEME,
    path: `/${path.basename(folder) || 'workspace'} environment.md`,
    query: encodeURIComponent(folder),
  });
}

export function folderOf(uri: vscode.Uri): string {
  return decodeURIComponent(uri.query);
}

/** Serves report documents from the store and refreshes them when a report changes. */
export class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange: vscode.Event<vscode.Uri> = this.emitter.event;
  private readonly open = new Set<string>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly store: ReportStore) {
    this.subscription = store.onDidChange(() => {
      for (const folder of this.open) this.emitter.fire(reportUri(folder));
    });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const folder = folderOf(uri);
    this.open.add(folder);
    const report = this.store.get(folder);
    return report === undefined
      ? `# Env Layers\n\nNo report for ${code(folder)} yet: the server has not answered.\n`
      : renderReport(report);
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}

/** Opens the report of a folder, as a rendered markdown preview when VS Code offers one. */
export async function showReportDocument(folder: string): Promise<void> {
  const uri = reportUri(folder);
  try {
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch {
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}
