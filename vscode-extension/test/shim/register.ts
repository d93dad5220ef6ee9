// Maps `require('vscode')` to the shim, so the extension's modules load under plain Node.
import * as path from 'node:path';
import Module = require('node:module');

type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const shim = path.join(__dirname, 'vscode.js');
const original = mod._resolveFilename;
if (!(original as { envlayersShim?: boolean }).envlayersShim) {
  const patched: Resolve = function (this: unknown, request, ...rest) {
    return request === 'vscode' ? shim : original.call(this, request, ...rest);
  };
  (patched as { envlayersShim?: boolean }).envlayersShim = true;
  mod._resolveFilename = patched;
}
