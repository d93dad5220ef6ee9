// debugpy configurations that opt in with `"envlayers": true` get `python` and `env` from the
// server; explicit values in launch.json always win.
import * as vscode from 'vscode';
import type { ServerDebugConfiguration } from './protocol';
import { scriptOfLaunch } from './scripts';

export const DEBUG_TYPE = 'debugpy';
export const DYNAMIC_CONFIGURATION_NAME = 'Python: current file (envlayers)';

/** Asks the server for the debug configuration of a workspace folder. */
export type DebugConfigurationSource = (
  folder: vscode.WorkspaceFolder | undefined,
  token: vscode.CancellationToken | undefined,
  script?: string,
) => Promise<ServerDebugConfiguration>;

export function dynamicConfiguration(): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: DYNAMIC_CONFIGURATION_NAME,
    program: '${file}',
    console: 'integratedTerminal',
    envlayers: true,
  };
}

function hasExplicitPython(config: vscode.DebugConfiguration): boolean {
  const python: unknown = config['python'];
  return (typeof python === 'string' && python !== '') || (Array.isArray(python) && python.length > 0);
}

/** Pure: fills `python`, `env` and `cwd` from the server's configuration, keeping explicit values. */
export function mergeDebugConfiguration(
  config: vscode.DebugConfiguration,
  server: ServerDebugConfiguration,
): vscode.DebugConfiguration {
  const merged: vscode.DebugConfiguration = { ...config };
  if (!hasExplicitPython(config)) {
    merged['python'] = server.python;
  }
  const explicitEnv: unknown = config['env'];
  merged['env'] = {
    ...server.env,
    ...(typeof explicitEnv === 'object' && explicitEnv !== null ? (explicitEnv as Record<string, unknown>) : {}),
  };
  if (config['cwd'] === undefined && typeof server.cwd === 'string') {
    merged['cwd'] = server.cwd;
  }
  return merged;
}

export class EnvlayersDebugProvider implements vscode.DebugConfigurationProvider {
  constructor(
    private readonly source: DebugConfigurationSource,
    private readonly onError: (error: unknown) => void,
  ) {}

  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [dynamicConfiguration()];
  }

  async resolveDebugConfiguration(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
    token?: vscode.CancellationToken,
  ): Promise<vscode.DebugConfiguration | undefined> {
    if (config['envlayers'] !== true) {
      return config;
    }
    try {
      // A launch of a script with inline metadata (PEP 723) runs in the script's own env.
      const script = scriptOfLaunch(config);
      const server = await (script === undefined ? this.source(folder, token) : this.source(folder, token, script));
      return mergeDebugConfiguration(config, server);
    } catch (error) {
      this.onError(error);
      // undefined aborts the launch: running with the wrong interpreter would mislead.
      return undefined;
    }
  }
}

export function registerDebugProvider(provider: EnvlayersDebugProvider): vscode.Disposable[] {
  return [
    // Resolve-only here: an initial launch.json should not be written with our entry.
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      resolveDebugConfiguration: (folder, config, token) =>
        provider.resolveDebugConfiguration(folder, config, token),
    }),
    vscode.debug.registerDebugConfigurationProvider(
      DEBUG_TYPE,
      { provideDebugConfigurations: () => provider.provideDebugConfigurations() },
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
  ];
}
