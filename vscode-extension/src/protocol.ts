// The wire shapes of the server. Results and notifications come from the contract the server
// owns (`python -m envlayers.schema` -> src/generated/schema.json -> src/generated/protocol.ts,
// both generated: never edit them). This file adds what the schema does not describe: the
// arguments the extension sends, and the error type its requests reject with.
import {
  type CommandResults,
  type DebugConfiguration,
  type DecodeOptions,
  ERROR_KINDS,
  type ErrorKind,
  type LayerInfo,
  ProtocolError,
  RESULT_DECODERS,
  type Report,
  type ServerCommand,
  array,
  decodeErrorData,
  decodeLayerInfo,
} from './generated/protocol';

export {
  type Composition,
  type Conflict,
  type DebugConfiguration,
  type DecodeOptions,
  type EnvironmentChanged,
  ENVIRONMENT_CHANGED,
  ERROR_KINDS,
  type ErrorData,
  type ErrorKind,
  type KernelResult,
  type Layer as LayerReport,
  type LayerInfo,
  type Profile,
  ProtocolError,
  type PruneResult,
  type RemoveLayerResult as RemoveResult,
  type Report,
  SERVER_COMMANDS,
  type ServerCommand,
  type Shadow,
  type SyncInfo as SyncReport,
  decodeDebugConfiguration,
  decodeEnvironmentChanged,
  decodeReport,
} from './generated/protocol';

export type SyncState = Report['sync']['state'];
export type ServerDebugConfiguration = DebugConfiguration;

/** The options every workspace command accepts (camelCase CLI flags). */
export interface WorkspaceArgs {
  workspace: string;
  /** A single-file script (PEP 723): its own environment, `workspace` is then ignored. */
  script?: string;
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

/** Argument type of each server command (results: the generated `CommandResults`). */
export interface CommandArgs {
  'envlayers.sync': WorkspaceArgs;
  'envlayers.compose': WorkspaceArgs;
  'envlayers.report': { workspace: string; script?: string };
  'envlayers.debugConfiguration': DebugArgs;
  'envlayers.installKernel': KernelArgs;
  'envlayers.listLayers': { workspace: string };
  'envlayers.pruneLayers': PruneArgs;
  'envlayers.removeLayer': RemoveLayerArgs;
  'envlayers.listCompositions': { workspace: string };
  'envlayers.listProfiles': { workspace: string };
}

export type ArgsOf<K extends ServerCommand> = CommandArgs[K];
export type ResultOf<K extends ServerCommand> = CommandResults[K];

/** Decoders per command: the server's results pass through one of these. */
export const DECODERS: { readonly [K in ServerCommand]: (raw: unknown, o?: DecodeOptions) => ResultOf<K> } =
  RESULT_DECODERS;

/** `envlayers.listLayers`' rows. */
export function decodeLayerList(raw: unknown, o: DecodeOptions = {}): LayerInfo[] {
  return array(raw, 'listLayers', (x, w) => decodeLayerInfo(x, o, w));
}

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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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
      try {
        const decoded = decodeErrorData(data);
        return new ServerError(decoded.kind, decoded.message, code);
      } catch (problem) {
        if (!(problem instanceof ProtocolError)) throw problem;
        // A kind this build does not know (a newer server): keep its message.
        const text = typeof data['message'] === 'string' ? data['message'] : message;
        return new ServerError('unknown', text, code);
      }
    }
    // -32800 is LSP's RequestCancelled: the client gave up on the request.
    if (code === -32800) {
      return new ServerError('cancelled', message, code);
    }
    return new ServerError('unknown', message, code);
  }
  return new ServerError('unknown', String(error));
}

/** True for a kind the contract names. */
export function isErrorKind(kind: string): kind is ErrorKind {
  return (ERROR_KINDS as readonly string[]).includes(kind);
}
