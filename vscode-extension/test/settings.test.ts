import './shim/register';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SETTINGS, SERVER_SETTING_KEYS, decodeSettings, readSettings, serverSettingsView } from '../src/settings';
import { resetShim } from './helpers';
import { harness } from './shim/vscode';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, { description?: string; markdownDescription?: string }> } };
};

beforeEach(() => resetShim());

test('defaults when nothing is set', () => {
  assert.deepEqual(decodeSettings(() => undefined), { settings: DEFAULT_SETTINGS, warnings: [] });
});

test('valid values are decoded; a lone interpreter string is accepted', () => {
  const values: Record<string, unknown> = {
    'server.interpreter': ['/py', '-X', 'utf8', ''],
    'server.verbose': true,
    setInterpreter: 'always',
    'recentLayers.limit': 3,
    'statusBar.enabled': false,
  };
  const { settings, warnings } = decodeSettings((k) => values[k]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings, {
    serverInterpreter: ['/py', '-X', 'utf8'],
    serverVerbose: true,
    setInterpreter: 'always',
    recentLayersLimit: 3,
    statusBarEnabled: false,
  });
  assert.deepEqual(decodeSettings((k) => (k === 'server.interpreter' ? '/usr/bin/python3' : undefined)).settings.serverInterpreter, ['/usr/bin/python3']);
});

test('bad values become warnings naming the setting, and the default', () => {
  const values: Record<string, unknown> = {
    'server.interpreter': 42,
    'server.verbose': 'yes',
    setInterpreter: 'sometimes',
    'recentLayers.limit': -1,
  };
  const { settings, warnings } = decodeSettings((k) => values[k]);
  assert.deepEqual(settings, DEFAULT_SETTINGS);
  assert.equal(warnings.length, 4);
  assert.match(warnings.join('\n'), /envlayers\.server\.interpreter/);
  assert.match(warnings.join('\n'), /envlayers\.setInterpreter should be "ask", "always" or "never", not "sometimes"/);
});

test('readSettings reads the envlayers section of the configuration', () => {
  harness.settings.set('envlayers.setInterpreter', 'never');
  assert.equal(readSettings().settings.setInterpreter, 'never');
});

test('the server sees only its own keys, and no auto-sync without trust', () => {
  const raw = { installer: 'uv', autoSync: true, noIndex: null, findLinks: ['/w'], server: { interpreter: [] }, setInterpreter: 'ask' };
  assert.deepEqual(serverSettingsView(raw, true), { installer: 'uv', autoSync: true, findLinks: ['/w'] });
  assert.deepEqual(serverSettingsView(raw, false), { installer: 'uv', autoSync: false, findLinks: ['/w'] });
  assert.deepEqual(serverSettingsView(undefined, true), {});
});

test('every server setting is contributed (documented) in package.json', () => {
  for (const key of SERVER_SETTING_KEYS) {
    const prop = manifest.contributes.configuration.properties[`envlayers.${key}`];
    assert.ok(prop !== undefined, `envlayers.${key} contributed`);
    assert.ok((prop.description ?? prop.markdownDescription ?? '').length > 20);
  }
});
