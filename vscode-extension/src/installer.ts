// Which installer the server will use. uv syncs in seconds where pip takes most of a minute, but
// the bundled server runs on the machine's python3, which seldom has uv: so the extension looks
// for one (on PATH, next to the selected interpreter, in the server's own environment) and hands
// it to the server as ENVLAYERS_UV (the server's `find_uv()` honours it).
import { statSync } from 'node:fs';
import * as path from 'node:path';

export const UV_ENV = 'ENVLAYERS_UV';

export type UvSource = 'ENVLAYERS_UV' | 'PATH' | 'selected interpreter' | 'server environment';

export interface InstallerChoice {
  /** What the server runs when pyproject.toml does not choose: "uv" or "pip". */
  readonly name: 'uv' | 'pip';
  /** The uv binary handed to the server, when one was found. */
  readonly uv?: string;
  readonly source?: UvSource;
  /** One line for the output channel and the status bar tooltip. */
  readonly summary: string;
}

export interface UvSearch {
  /** `envlayers.installer`: auto, uv or pip. */
  readonly setting: string;
  readonly env: NodeJS.ProcessEnv;
  /** The Python extension's selected interpreter, if any. */
  readonly selectedInterpreter: string | undefined;
  /** The executable the server runs on (its `sys.executable`, or the launch command). */
  readonly serverPython: string | undefined;
  readonly isExecutable?: (file: string) => boolean;
  readonly platform?: NodeJS.Platform;
}

function executable(file: string): boolean {
  try {
    const st = statSync(file);
    return st.isFile() && (process.platform === 'win32' || (st.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/** The first uv among the places the server cannot see by itself (pure but for `isExecutable`). */
export function findUv(search: UvSearch): { uv: string; source: UvSource } | undefined {
  const isExe = search.isExecutable ?? executable;
  const win = (search.platform ?? process.platform) === 'win32';
  const name = win ? 'uv.exe' : 'uv';
  const given = search.env[UV_ENV]?.trim();
  if (given !== undefined && given !== '' && isExe(given)) return { uv: given, source: 'ENVLAYERS_UV' };
  const delimiter = win ? ';' : ':';
  for (const dir of (search.env['PATH'] ?? search.env['Path'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExe(candidate)) return { uv: candidate, source: 'PATH' };
  }
  // A venv's scripts folder holds its python and, when uv is installed there, uv.
  const beside = (python: string | undefined): string | undefined => {
    if (python === undefined || python === '' || !path.isAbsolute(python)) return undefined;
    const candidate = path.join(path.dirname(python), name);
    return isExe(candidate) ? candidate : undefined;
  };
  const selected = beside(search.selectedInterpreter);
  if (selected !== undefined) return { uv: selected, source: 'selected interpreter' };
  const server = beside(search.serverPython);
  if (server !== undefined) return { uv: server, source: 'server environment' };
  return undefined;
}

/** What the server will install with, and the environment variable that tells it. */
export function chooseInstaller(search: UvSearch): InstallerChoice {
  if (search.setting === 'pip') {
    return { name: 'pip', summary: 'Installer: pip (the envlayers.installer setting)' };
  }
  const found = findUv(search);
  if (found === undefined) {
    const why =
      search.setting === 'uv'
        ? 'envlayers.installer is "uv" but no uv was found: syncs will fail until uv is installed'
        : 'no uv on PATH, next to the selected interpreter or in the server\'s environment; install uv for much faster syncs';
    return { name: 'pip', summary: `Installer: pip (${why})` };
  }
  return {
    name: 'uv',
    uv: found.uv,
    source: found.source,
    summary: `Installer: uv (${found.uv}, from the ${found.source}), unless pyproject.toml's [tool.envlayers] installer says pip`,
  };
}
