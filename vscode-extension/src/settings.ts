// Settings are decoded once into a typed, defaulted object; a bad value becomes a warning and
// the default, never a crash.
import * as vscode from 'vscode';

export type SetInterpreterMode = 'ask' | 'always' | 'never';

export interface Settings {
  /** Command (executable and leading arguments) of a Python that can import envlayers. */
  readonly serverInterpreter: readonly string[];
  readonly serverVerbose: boolean;
  readonly setInterpreter: SetInterpreterMode;
  readonly recentLayersLimit: number;
  readonly statusBarEnabled: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  serverInterpreter: [],
  serverVerbose: false,
  setInterpreter: 'ask',
  recentLayersLimit: 10,
  statusBarEnabled: true,
};

export interface DecodedSettings {
  readonly settings: Settings;
  readonly warnings: readonly string[];
}

/** Sections whose change means the server must be restarted. */
export const RESTART_SECTIONS: readonly string[] = ['envlayers.server'];

/** Decodes raw values (`get('server.interpreter')`...) without touching VS Code. */
export function decodeSettings(get: (key: string) => unknown): DecodedSettings {
  const warnings: string[] = [];
  const bad = (key: string, expected: string, value: unknown): void => {
    warnings.push(
      `Setting envlayers.${key} should be ${expected}, not ${JSON.stringify(value)}; using the default.`,
    );
  };

  let serverInterpreter = DEFAULT_SETTINGS.serverInterpreter;
  const interp = get('server.interpreter');
  if (typeof interp === 'string') {
    // A lone path is the common mistake; accept it rather than ignore it.
    serverInterpreter = interp.trim() === '' ? [] : [interp];
  } else if (Array.isArray(interp) && interp.every((v) => typeof v === 'string')) {
    serverInterpreter = (interp as string[]).filter((v) => v.trim() !== '');
  } else if (interp !== undefined && interp !== null) {
    bad('server.interpreter', 'a list of strings', interp);
  }

  const bool = (key: string, fallback: boolean): boolean => {
    const value = get(key);
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'boolean') {
      bad(key, 'true or false', value);
      return fallback;
    }
    return value;
  };

  let setInterpreter = DEFAULT_SETTINGS.setInterpreter;
  const mode = get('setInterpreter');
  if (mode === 'ask' || mode === 'always' || mode === 'never') {
    setInterpreter = mode;
  } else if (mode !== undefined && mode !== null) {
    bad('setInterpreter', '"ask", "always" or "never"', mode);
  }

  let recentLayersLimit = DEFAULT_SETTINGS.recentLayersLimit;
  const limit = get('recentLayers.limit');
  if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 0 && limit <= 50) {
    recentLayersLimit = limit;
  } else if (limit !== undefined && limit !== null) {
    bad('recentLayers.limit', 'an integer from 0 to 50', limit);
  }

  return {
    settings: {
      serverInterpreter,
      serverVerbose: bool('server.verbose', DEFAULT_SETTINGS.serverVerbose),
      setInterpreter,
      recentLayersLimit,
      statusBarEnabled: bool('statusBar.enabled', DEFAULT_SETTINGS.statusBarEnabled),
    },
    warnings,
  };
}

/** Reads the `envlayers` section of VS Code's configuration. */
export function readSettings(scope?: vscode.ConfigurationScope): DecodedSettings {
  const config = vscode.workspace.getConfiguration('envlayers', scope);
  return decodeSettings((key) => config.get<unknown>(key));
}

/** True when a configuration change should restart the server. */
export function affectsServer(event: vscode.ConfigurationChangeEvent): boolean {
  return RESTART_SECTIONS.some((section) => event.affectsConfiguration(section));
}

/** The keys of the `envlayers` section that the server itself reads (workspace/configuration). */
export const SERVER_SETTING_KEYS: readonly string[] = [
  'installer',
  'autoSync',
  'cacheDir',
  'showNotifications',
  'indexUrl',
  'extraIndexUrls',
  'findLinks',
  'noIndex',
];

/**
 * What the server is shown of the `envlayers` section: only its own keys (the extension's would
 * be "unknown setting" warnings), and no auto-sync in an untrusted workspace (it installs).
 */
export function serverSettingsView(raw: unknown, trusted: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return out;
  }
  const values = raw as Record<string, unknown>;
  for (const key of SERVER_SETTING_KEYS) {
    if (values[key] !== undefined && values[key] !== null) out[key] = values[key];
  }
  if (!trusted) out['autoSync'] = false;
  return out;
}
