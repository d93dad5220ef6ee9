import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { REPORT_SCHEME, ReportDocuments, folderOf, renderReport, reportUri, showReportDocument } from '../src/reportView';
import { ReportStore } from '../src/state';
import { WS, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

beforeEach(() => resetShim());

test('the rendering shows interpreter, layers with packages, conflicts and sync state', () => {
  const text = renderReport(
    sampleReport({
      conflicts: [{ name: 'rich', version: '13.7.1', source: 'k1', shadows: [{ version: '12.6.0', source: 'workspace' }], breaks: ['oldlib 1.0 requires rich<13'] }],
      satisfiedByBase: ['packaging'],
      sync: { state: 'out-of-sync', installed: [], removed: [], extraneous: ['tool'] },
    }),
  );
  assert.match(text, /^# Env Layers: project/);
  assert.match(text, /\*\*base \+ 1 layer\*\*/);
  assert.ok(text.includes(`| Interpreter | \`${sampleReport().interpreter}\` |`));
  assert.match(text, /\| Python \| 3\.11\.7 \|/);
  assert.match(text, /### 1\. `rich>=13`/);
  assert.match(text, /\| pygments \| 2\.18\.0 \|\n\| rich \| 13\.7\.1 \|/);
  assert.match(text, /\*\*rich 13\.7\.1\*\* from `k1` wins over 12\.6\.0 from `workspace`; no longer satisfies `oldlib 1\.0 requires rich<13`/);
  assert.match(text, /> \*\*Warning:\*\* the workspace environment is out of sync/);
  assert.match(text, /Already satisfied by the base \(no layer needed\): `packaging`/);
  assert.match(text, /Extraneous \(kept\): `tool`/);
  assert.match(text, /\| VIRTUAL_ENV \| `/);
});

test('a base-only report says that no layer was needed', () => {
  const text = renderReport(sampleReport({ layers: [] }));
  assert.match(text, /_No layers: the base satisfies every request\._/);
  assert.match(text, /## Conflicts\n\n_None\._/);
});

test('table cells escape pipes', () => {
  const text = renderReport(sampleReport({ env: { WEIRD: 'a|b' } }));
  assert.ok(text.includes('| WEIRD | `a\\|b` |'));
});

test('report documents come from the store and refresh when it changes', async () => {
  const store = new ReportStore();
  const docs = new ReportDocuments(store);
  vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, docs);
  const uri = reportUri(WS);
  assert.equal(uri.scheme, REPORT_SCHEME);
  assert.equal(folderOf(uri), WS);
  assert.match(docs.provideTextDocumentContent(uri), /No report/);
  const changed: string[] = [];
  docs.onDidChange((u) => changed.push(folderOf(u)));
  store.set(sampleReport());
  assert.deepEqual(changed, [WS]);
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.match(doc.getText(), /base \+ 1 layer/);
  await showReportDocument(WS);
  assert.equal(harness.executed.at(-1)?.id, 'markdown.showPreview');
});
