import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { ServerProgress } from '../src/progress';
import { FakeConnection, flush, resetShim } from './helpers';
import { harness } from './shim/vscode';

beforeEach(() => resetShim());

test("server progress becomes a cancellable notification carrying the installer's lines", async () => {
  const conn = new FakeConnection();
  const progress = new ServerProgress(conn);
  conn.createProgress('t1');
  assert.equal(progress.active, 1);
  conn.sendProgress('t1', { kind: 'begin', title: 'Building layer', cancellable: true, message: 'resolving' });
  await flush();
  const run = harness.progress[0];
  assert.ok(run !== undefined);
  assert.equal(run.options.location, vscode.ProgressLocation.Notification);
  assert.equal(run.options.title, 'Env Layers: Building layer');
  assert.equal(run.options.cancellable, true);
  conn.sendProgress('t1', { kind: 'report', message: 'Collecting rich', percentage: 40 });
  conn.sendProgress('t1', { kind: 'report', message: 'Installing', percentage: 70 });
  assert.deepEqual(run.reports, [{ message: 'resolving' }, { message: 'Collecting rich', increment: 40 }, { message: 'Installing', increment: 30 }]);
  run.token.cancel();
  assert.deepEqual(conn.cancelled, ['t1']);
  conn.sendProgress('t1', { kind: 'end', message: 'cancelled' });
  await flush();
  assert.equal(run.done, true);
  assert.equal(progress.active, 0);
});

test('an end before begin, and disposal, finish parts cleanly', async () => {
  const conn = new FakeConnection();
  const progress = new ServerProgress(conn);
  conn.createProgress(7);
  conn.sendProgress(7, { kind: 'end' });
  assert.equal(progress.active, 0);
  conn.createProgress(8);
  conn.sendProgress(8, { kind: 'begin', title: 'Syncing' });
  await flush();
  progress.dispose();
  await flush();
  assert.equal(harness.progress[0]?.done, true);
  assert.equal(harness.progress[0]?.options.cancellable, false);
});
