import './shim/register';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { ReportStore, currentFolder } from '../src/state';
import { WS, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

beforeEach(() => resetShim());

test('reports are found by workspace, by the folder asked for, and for folders inside', () => {
  const store = new ReportStore();
  const seen: string[] = [];
  store.onDidChange((r) => seen.push(r?.workspace ?? 'deleted'));
  store.set(sampleReport(), '/elsewhere/link');
  assert.equal(store.get(WS)?.workspace, WS);
  assert.equal(store.get('/elsewhere/link')?.workspace, WS);
  assert.equal(store.get(path.join(WS, 'src', 'pkg'))?.workspace, WS);
  assert.equal(store.get(WS + '-other'), undefined);
  assert.deepEqual(seen, [WS]);
  assert.equal(store.all().length, 1);
  store.delete(WS);
  assert.equal(store.get('/elsewhere/link'), undefined);
  assert.deepEqual(seen, [WS, 'deleted']);
});

test('the current folder is the active editor\'s, else the first', () => {
  assert.equal(currentFolder(), undefined);
  harness.addFolder('/a');
  harness.addFolder('/b');
  assert.equal(currentFolder()?.uri.fsPath, '/a');
  harness.activeEditor = { document: { uri: vscode.Uri.file('/b/x.py') } };
  assert.equal(currentFolder()?.uri.fsPath, '/b');
});
