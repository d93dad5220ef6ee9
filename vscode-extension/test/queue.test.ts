// "Add Layer" entered while a sync still runs must be done after it, or refused with a message:
// never dropped. Reproduces the code-server trial (input box shown during the first sync, `six`
// typed, Enter: no layer, no composition, no message) with a server that, like the real one when
// a second job is pulled out from under it, answers a job that overlaps another with
// `cancelled`, which the extension showed to nobody.
import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { type EnvlayersApi, activateWith, deactivate } from '../src/extension';
import { ServerError } from '../src/protocol';
import { FakeConnection, WS, fakeContext, flush, resetShim, sampleReport } from './helpers';
import { harness } from './shim/vscode';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

let connection: FakeConnection;
let running: string | undefined;
const order: string[] = [];

/** A job that takes until `gate` opens; a job arriving meanwhile is refused (cancelled). */
function job(name: string, gate: Deferred | undefined, result: () => unknown) {
  return async (): Promise<unknown> => {
    if (running !== undefined) {
      order.push(`${name} refused (${running} running)`);
      throw new ServerError('cancelled', 'cancelled by the client');
    }
    running = name;
    order.push(`${name} start`);
    try {
      await gate?.promise;
      return result();
    } finally {
      running = undefined;
      order.push(`${name} end`);
    }
  };
}

async function activate(): Promise<EnvlayersApi> {
  const api = await activateWith(fakeContext(), {
    connect: async () => connection,
    probe: async (command) => ({ executable: command[0] ?? '', version: [3, 11, 7], hasEnvlayers: true }),
    pathPythons: () => [],
  });
  await api.ready;
  await flush();
  return api;
}

beforeEach(() => {
  resetShim();
  harness.addFolder(WS);
  harness.settings.set('envlayers.server.interpreter', ['/opt/py/bin/python']);
  harness.settings.set('envlayers.setInterpreter', 'never');
  running = undefined;
  order.length = 0;
});

test('Add Layer during a running sync is queued, then composed, and the user is told', async () => {
  const syncGate = deferred();
  const base = sampleReport({ layers: [], name: null, virtualEnv: `${WS}/.venv`, interpreter: `${WS}/.venv/bin/python` });
  connection = new FakeConnection({
    'envlayers.report': () => base,
    'envlayers.sync': job('sync', syncGate, () => base),
    'envlayers.compose': job('compose', undefined, () => sampleReport()),
  });
  const api = await activate();
  const sync = api.commands.sync();
  await flush();
  assert.equal(running, 'sync');

  harness.answer('six'); // the input box of "Add Layer", answered while the sync runs
  const add = api.commands.addLayer();
  await flush();
  await flush();
  // Refused or queued, the user sees it at once: never a silent drop.
  const told = harness.shown.filter((s) => /six/.test(s.message));
  assert.equal(told.length, 1, JSON.stringify(harness.shown));
  assert.match(told[0]?.message ?? '', /after .*sync/i);

  syncGate.resolve();
  const [synced, composed] = await Promise.all([sync, add]);
  assert.ok(synced !== undefined);
  assert.ok(composed !== undefined, `the layer was dropped: ${order.join(', ')}`);
  assert.deepEqual(order, ['sync start', 'sync end', 'compose start', 'compose end']);
  assert.deepEqual(
    connection.calls.filter((c) => c.command === 'envlayers.compose').map((c) => c.arg),
    [{ workspace: WS, with: ['six'] }],
  );
  assert.equal(harness.statusItems[0]?.text, '$(layers) base + 1 layer');
  assert.deepEqual(harness.shown.filter((s) => s.level === 'error'), []);
  await deactivate();
});

test('a queued job still runs when the one before it fails, and both outcomes are shown', async () => {
  const syncGate = deferred();
  connection = new FakeConnection({
    'envlayers.report': () => sampleReport(),
    'envlayers.sync': job('sync', syncGate, () => {
      throw new ServerError('install-failed', 'pip failed for foo==9');
    }),
    'envlayers.compose': job('compose', undefined, () => sampleReport()),
  });
  const api = await activate();
  const sync = api.commands.sync();
  await flush();
  harness.answer('six');
  const add = api.commands.addLayer();
  await flush();
  syncGate.resolve();
  const [synced, composed] = await Promise.all([sync, add]);
  assert.equal(synced, undefined);
  assert.ok(composed !== undefined);
  assert.deepEqual(
    harness.shown.filter((s) => s.level === 'error').map((s) => s.message),
    ['Env Layers: pip failed for foo==9'],
  );
  await deactivate();
});
