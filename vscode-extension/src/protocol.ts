// The one place that knows the wire shapes of SPEC.md ("The report", "Language server").
// Everything the server sends is decoded here, so the rest of the extension can trust its types.

/** Commands the server advertises; vscode-languageclient registers these ids itself. */
export const SERVER_COMMANDS = [
  'envlayers.sync',
  'envlayers.compose',
  'envlayers.report',
  'envlayers.debugConfiguration',
  'envlayers.installKernel',
  'envlayers.listLayers',
  'envlayers.pruneLayers',
  'envlayers.removeLayer',
] as const;

export type ServerCommand = (typeof SERVER_COMMANDS)[number];

export const ENVIRONMENT_CHANGED = 'envlayers/environmentChanged';

export type SyncState = 'in-sync' | 'out-of-sync' | 'missing';

export interface LayerReport {
  readonly key: string;
  readonly path: string;
  readonly requirements: readonly string[];
  readonly packages: Readonly<Record<string, string>>;
  readonly reused: boolean;
}

export interface Shadowed {
  readonly version: string;
  readonly source: string;
}

export interface Conflict {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly shadows: readonly Shadowed[];
  readonly breaks: readonly string[];
}

export interface SyncReport {
  readonly state: SyncState;
  readonly installed: readonly string[];
  readonly removed: readonly string[];
  readonly extraneous: readonly string[];
}

export interface Report {
  readonly schemaVersion: number;
  readonly workspace: string;
  readonly interpreter: string;
  readonly baseInterpreter: string;
  readonly pythonVersion: string;
  readonly virtualEnv: string;
  readonly sysPath: readonly string[];
  readonly pythonPath: string;
  readonly pathPrefix: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly layers: readonly LayerReport[];
  readonly satisfiedByBase: readonly string[];
  readonly conflicts: readonly Conflict[];
  readonly sync: SyncReport;
}

/** The options every workspace command accepts (camelCase CLI flags). */
export interface WorkspaceArgs {
  workspace: string;
  with?: string[];
  withRequirements?: string[];
  withEditable?: string[];
  profile?: string;
  noSync?: boolean;
  refresh?: boolean;
  python?: string;
  groups?: string[];
  noDev?: boolean;
  allGroups?: boolean;
  extras?: string[];
  allExtras?: boolean;
  exact?: boolean;
  frozen?: boolean;
}

export interface DebugArgs extends WorkspaceArgs {
  program?: string;
  module?: string;
}

export interface KernelArgs extends WorkspaceArgs {
  name?: string;
  displayName?: string;
  user?: boolean;
}

export interface PruneArgs {
  workspace: string;
  olderThanDays?: number;
  all?: boolean;
}

export interface RemoveLayerArgs {
  workspace: string;
  key: string;
}

export interface KernelResult {
  readonly name: string;
  readonly path: string;
  readonly argv: readonly string[];
  readonly interpreter: string;
}

export interface LayerInfo {
  readonly key: string;
  readonly path: string;
  readonly requirements: readonly string[];
  readonly sizeBytes: number;
  readonly lastUsed: string | number | null;
  readonly usedBy: readonly string[];
}

export interface PruneResult {
  readonly removed: readonly string[];
  readonly freedBytes: number;
}

export interface RemoveResult {
  readonly removed: readonly string[];
}

/** A debugpy launch configuration as the server returns it; extra keys are kept. */
export interface ServerDebugConfiguration {
  readonly type: string;
  readonly request: string;
  readonly python: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly [key: string]: unknown;
}

export interface EnvironmentChanged {
  readonly workspace: string;
  /** Undefined when the server cannot compute one (e.g. a broken pyproject.toml). */
  readonly report: Report | undefined;
}

/** Argument and result type of each server command. */
export interface CommandTypes {
  'envlayers.sync': [WorkspaceArgs, Report];
  'envlayers.compose': [WorkspaceArgs, Report];
  'envlayers.report': [WorkspaceArgs, Report];
  'envlayers.debugConfiguration': [DebugArgs, ServerDebugConfiguration];
  'envlayers.installKernel': [KernelArgs, KernelResult];
  'envlayers.listLayers': [{ workspace: string }, LayerInfo[]];
  'envlayers.pruneLayers': [PruneArgs, PruneResult];
  'envlayers.removeLayer': [RemoveLayerArgs, RemoveResult];
}

export type ArgsOf<K extends ServerCommand> = CommandTypes[K][0];
export type ResultOf<K extends ServerCommand> = CommandTypes[K][1];

export type ErrorKind = 'invalid-input' | 'install-failed' | 'interpreter-not-found' | 'cancelled';

/** A server failure, decoded from a JSON-RPC error's `data: {kind, message}`. */
export class ServerError extends Error {
  constructor(
    readonly kind: ErrorKind | 'unknown',
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

const ERROR_KINDS: readonly string[] = [
  'invalid-input',
  'install-failed',
  'interpreter-not-found',
  'cancelled',
];

/** Turns whatever a request rejected with into a `ServerError`. */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) {
    return error;
  }
  if (isObject(error)) {
    const code = typeof error['code'] === 'number' ? error['code'] : undefined;
    const data = error['data'];
    const message = typeof error['message'] === 'string' ? error['message'] : String(error);
    if (isObject(data) && typeof data['kind'] === 'string') {
      const kind = ERROR_KINDS.includes(data['kind']) ? (data['kind'] as ErrorKind) : 'unknown';
      const text = typeof data['message'] === 'string' ? data['message'] : message;
      return new ServerError(kind, text, code);
    }
    // -32800 is LSP's RequestCancelled: the client gave up on the request.
    if (code === -32800) {
      return new ServerError('cancelled', message, code);
    }
    return new ServerError('unknown', message, code);
  }
  return new ServerError('unknown', String(error));
}

/** Raised when the server sends something that does not match SPEC's shapes. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(obj: Record<string, unknown>, key: string, where: string): unknown {
  if (!(key in obj)) {
    throw new ProtocolError(`${where}: missing "${key}"`);
  }
  return obj[key];
}

function str(obj: Record<string, unknown>, key: string, where: string): string {
  const value = field(obj, key, where);
  if (typeof value !== 'string') {
    throw new ProtocolError(`${where}.${key}: expected a string`);
  }
  return value;
}

function strList(obj: Record<string, unknown>, key: string, where: string): string[] {
  const value = field(obj, key, where);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ProtocolError(`${where}.${key}: expected a list of strings`);
  }
  return value as string[];
}

function strMap(obj: Record<string, unknown>, key: string, where: string): Record<string, string> {
  const value = field(obj, key, where);
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new ProtocolError(`${where}.${key}: expected an object of strings`);
  }
  return value as Record<string, string>;
}

function objList(obj: Record<string, unknown>, key: string, where: string): Record<string, unknown>[] {
  const value = field(obj, key, where);
  if (!Array.isArray(value) || !value.every(isObject)) {
    throw new ProtocolError(`${where}.${key}: expected a list of objects`);
  }
  return value;
}

function decodeLayer(raw: Record<string, unknown>, where: string): LayerReport {
  return {
    key: str(raw, 'key', where),
    path: str(raw, 'path', where),
    requirements: strList(raw, 'requirements', where),
    packages: strMap(raw, 'packages', where),
    reused: raw['reused'] === true,
  };
}

function decodeConflict(raw: Record<string, unknown>, where: string): Conflict {
  return {
    name: str(raw, 'name', where),
    version: str(raw, 'version', where),
    source: str(raw, 'source', where),
    shadows: objList(raw, 'shadows', where).map((s, i) => ({
      version: str(s, 'version', `${where}.shadows[${i}]`),
      source: str(s, 'source', `${where}.shadows[${i}]`),
    })),
    breaks: strList(raw, 'breaks', where),
  };
}

function decodeSync(raw: unknown): SyncReport {
  if (!isObject(raw)) {
    throw new ProtocolError('report.sync: expected an object');
  }
  const state = str(raw, 'state', 'report.sync');
  if (state !== 'in-sync' && state !== 'out-of-sync' && state !== 'missing') {
    throw new ProtocolError(`report.sync.state: unknown state ${JSON.stringify(state)}`);
  }
  const optList = (key: string): string[] =>
    key in raw ? strList(raw, key, 'report.sync') : [];
  return {
    state,
    installed: optList('installed'),
    removed: optList('removed'),
    extraneous: optList('extraneous'),
  };
}

/** Checks and narrows a report received from the server. */
export function decodeReport(raw: unknown): Report {
  if (!isObject(raw)) {
    throw new ProtocolError('report: expected an object');
  }
  const w = 'report';
  const version = field(raw, 'schemaVersion', w);
  if (version !== 1) {
    throw new ProtocolError(`report.schemaVersion: unsupported version ${JSON.stringify(version)}`);
  }
  return {
    schemaVersion: 1,
    workspace: str(raw, 'workspace', w),
    interpreter: str(raw, 'interpreter', w),
    baseInterpreter: str(raw, 'baseInterpreter', w),
    pythonVersion: str(raw, 'pythonVersion', w),
    virtualEnv: str(raw, 'virtualEnv', w),
    sysPath: strList(raw, 'sysPath', w),
    pythonPath: str(raw, 'pythonPath', w),
    pathPrefix: strList(raw, 'pathPrefix', w),
    env: strMap(raw, 'env', w),
    layers: objList(raw, 'layers', w).map((l, i) => decodeLayer(l, `report.layers[${i}]`)),
    satisfiedByBase: strList(raw, 'satisfiedByBase', w),
    conflicts: objList(raw, 'conflicts', w).map((c, i) =>
      decodeConflict(c, `report.conflicts[${i}]`),
    ),
    sync: decodeSync(field(raw, 'sync', w)),
  };
}

export function decodeDebugConfiguration(raw: unknown): ServerDebugConfiguration {
  if (!isObject(raw)) {
    throw new ProtocolError('debugConfiguration: expected an object');
  }
  const w = 'debugConfiguration';
  return {
    ...raw,
    type: str(raw, 'type', w),
    request: str(raw, 'request', w),
    python: str(raw, 'python', w),
    env: strMap(raw, 'env', w),
  };
}

export function decodeKernel(raw: unknown): KernelResult {
  if (!isObject(raw)) {
    throw new ProtocolError('installKernel: expected an object');
  }
  const w = 'installKernel';
  return {
    name: str(raw, 'name', w),
    path: str(raw, 'path', w),
    argv: strList(raw, 'argv', w),
    interpreter: str(raw, 'interpreter', w),
  };
}

export function decodePrune(raw: unknown): PruneResult {
  if (!isObject(raw)) {
    throw new ProtocolError('pruneLayers: expected an object');
  }
  const freed = raw['freedBytes'];
  return {
    removed: strList(raw, 'removed', 'pruneLayers'),
    freedBytes: typeof freed === 'number' ? freed : 0,
  };
}

export function decodeRemove(raw: unknown): RemoveResult {
  if (!isObject(raw)) {
    throw new ProtocolError('removeLayer: expected an object');
  }
  return { removed: strList(raw, 'removed', 'removeLayer') };
}

export function decodeLayerList(raw: unknown): LayerInfo[] {
  if (!Array.isArray(raw) || !raw.every(isObject)) {
    throw new ProtocolError('listLayers: expected a list of objects');
  }
  return raw.map((l, i) => {
    const w = `listLayers[${i}]`;
    const size = l['sizeBytes'];
    const last = l['lastUsed'];
    return {
      key: str(l, 'key', w),
      path: str(l, 'path', w),
      requirements: strList(l, 'requirements', w),
      sizeBytes: typeof size === 'number' ? size : 0,
      lastUsed: typeof last === 'string' || typeof last === 'number' ? last : null,
      usedBy: 'usedBy' in l ? strList(l, 'usedBy', w) : [],
    };
  });
}

/** Decoders per command: the server's results pass through one of these. */
export const DECODERS: { [K in ServerCommand]: (raw: unknown) => ResultOf<K> } = {
  'envlayers.sync': decodeReport,
  'envlayers.compose': decodeReport,
  'envlayers.report': decodeReport,
  'envlayers.debugConfiguration': decodeDebugConfiguration,
  'envlayers.installKernel': decodeKernel,
  'envlayers.listLayers': decodeLayerList,
  'envlayers.pruneLayers': decodePrune,
  'envlayers.removeLayer': decodeRemove,
};

export function decodeEnvironmentChanged(raw: unknown): EnvironmentChanged {
  if (!isObject(raw)) {
    throw new ProtocolError('environmentChanged: expected an object');
  }
  return {
    workspace: str(raw, 'workspace', 'environmentChanged'),
    report: raw['report'] === null || raw['report'] === undefined ? undefined : decodeReport(raw['report']),
  };
}
