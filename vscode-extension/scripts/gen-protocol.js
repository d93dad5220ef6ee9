#!/usr/bin/env node
// Writes src/generated/protocol.ts (TypeScript types and runtime decoders) from
// src/generated/schema.json, the wire contract the server emits (`python -m envlayers.schema`),
// and its plain-JavaScript twin for the independent Node client of tests/e2e/node_wire.
// Usage: node scripts/gen-protocol.js [--check]   (--check: exit 1 when the file is stale)
// Plain CommonJS, no dependencies, so the tests can require() it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const EXTENSION = path.resolve(__dirname, '..');
const SCHEMA = path.join(EXTENSION, 'src', 'generated', 'schema.json');
const OUTPUT = path.join(EXTENSION, 'src', 'generated', 'protocol.ts');
const OUTPUT_JS = path.join(EXTENSION, '..', 'tests', 'e2e', 'node_wire', 'protocol.generated.mjs');
const REF = /^#\/\$defs\/([A-Za-z0-9_]+)$/;

function refName(node) {
  const m = REF.exec(node.$ref);
  if (m === null) throw new Error(`gen-protocol: unsupported $ref ${node.$ref}`);
  return m[1];
}

const PRIMITIVE_TS = { string: 'string', boolean: 'boolean', integer: 'number', number: 'number', null: 'null' };

/** The TypeScript type of a schema node. */
function tsType(node) {
  if (node.$ref !== undefined) return refName(node);
  if (node.anyOf !== undefined) return node.anyOf.map(tsType).join(' | ');
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum !== undefined) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  const kinds = Array.isArray(node.type) ? node.type : [node.type];
  return kinds
    .map((kind) => {
      if (kind === 'array') return `readonly (${tsType(node.items)})[]`;
      if (kind === 'object') return `Readonly<Record<string, ${tsType(node.additionalProperties)}>>`;
      const ts = PRIMITIVE_TS[kind];
      if (ts === undefined) throw new Error(`gen-protocol: unsupported type ${kind}`);
      return ts;
    })
    .join(' | ');
}

/** An expression decoding `v` (at path `w`) per a schema node; `o` is the DecodeOptions. */
function decoder(node, v, w) {
  if (node.$ref !== undefined) return `decode${refName(node)}(${v}, o, ${w})`;
  if (node.anyOf !== undefined) {
    const options = node.anyOf.map((n) => `(x: unknown, xw: string) => ${decoder(n, 'x', 'xw')}`);
    return `anyOf(${v}, ${w}, [${options.join(', ')}])`;
  }
  if (node.const !== undefined) return `literal(${v}, ${w}, [${JSON.stringify(node.const)}] as const)`;
  if (node.enum !== undefined) return `literal(${v}, ${w}, ${JSON.stringify(node.enum)} as const)`;
  const kinds = Array.isArray(node.type) ? node.type : [node.type];
  if (kinds.length > 1) {
    if (kinds.some((k) => PRIMITIVE_TS[k] === undefined)) throw new Error('gen-protocol: only unions of primitives');
    return `primitive(${v}, ${w}, ${JSON.stringify(kinds)}) as ${tsType(node)}`;
  }
  const kind = kinds[0];
  if (kind === 'array') return `array(${v}, ${w}, (x, xw) => ${decoder(node.items, 'x', 'xw')})`;
  if (kind === 'object') return `record(${v}, ${w}, (x, xw) => ${decoder(node.additionalProperties, 'x', 'xw')})`;
  return `primitive(${v}, ${w}, [${JSON.stringify(kind)}]) as ${PRIMITIVE_TS[kind]}`;
}

function comment(text, indent = '') {
  return text === undefined ? '' : `${indent}/** ${text.replace(/\*\//g, '* /')} */\n`;
}

function objectDef(name, def) {
  if (def.type !== 'object' || def.properties === undefined) throw new Error(`gen-protocol: ${name} is not an object`);
  const required = new Set(def.required ?? []);
  const keys = Object.keys(def.properties);
  const fields = keys
    .map((key) => `  readonly ${key}${required.has(key) ? '' : '?'}: ${tsType(def.properties[key])};`)
    .join('\n');
  const iface = `${comment(def.description)}export interface ${name} {\n${fields}\n}\n`;
  const upper = name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const constants =
    `const ${upper}_KEYS: readonly string[] = ${JSON.stringify(keys)};\n`;
  const body = keys
    .map((key) => {
      const value = required.has(key) ? `need(r, ${JSON.stringify(key)}, where)` : `r[${JSON.stringify(key)}]`;
      const expr = decoder(def.properties[key], value, `\`\${where}.${key}\``);
      return required.has(key)
        ? `    ${key}: ${expr},`
        : `    ...(${JSON.stringify(key)} in r ? { ${key}: ${expr} } : {}),`;
    })
    .join('\n');
  const fn =
    `/** Checks that \`value\` is a ${name}; throws a ProtocolError naming the first bad field. */\n` +
    `export function decode${name}(value: unknown, o: DecodeOptions = {}, where = ${JSON.stringify(name[0].toLowerCase() + name.slice(1))}): ${name} {\n` +
    `  const r = object(value, where, ${upper}_KEYS, o);\n` +
    `  return {\n${body}\n  };\n}\n`;
  return `${iface}\n${constants}\n${fn}`;
}

const RUNTIME = `/** The server sent something that does not match the wire contract. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface DecodeOptions {
  /** Reject keys the contract does not name (tests); by default they are dropped. */
  readonly strict?: boolean;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const text = JSON.stringify(value);
  return \`\${typeof value} \${text === undefined ? '' : text.length > 60 ? text.slice(0, 57) + '...' : text}\`.trim();
}

function fail(where: string, expected: string, value: unknown): never {
  throw new ProtocolError(\`\${where}: expected \${expected}, got \${describe(value)}\`);
}

const IS: Readonly<Record<string, (value: unknown) => boolean>> = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  null: (v) => v === null,
};

const ARTICLE: Readonly<Record<string, string>> = {
  string: 'a string',
  boolean: 'a boolean',
  integer: 'an integer',
  number: 'a number',
  null: 'null',
};

function primitive(value: unknown, where: string, kinds: readonly string[]): unknown {
  if (!kinds.some((k) => IS[k]?.(value) === true)) fail(where, kinds.map((k) => ARTICLE[k] ?? k).join(' or '), value);
  return value;
}

function literal<T extends string | number | boolean>(value: unknown, where: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) fail(where, allowed.map((a) => JSON.stringify(a)).join(' or '), value);
  return value as T;
}

export function array<T>(value: unknown, where: string, item: (x: unknown, w: string) => T): T[] {
  if (!Array.isArray(value)) fail(where, 'an array', value);
  return value.map((x: unknown, i: number) => item(x, \`\${where}[\${i}]\`));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record<T>(value: unknown, where: string, item: (x: unknown, w: string) => T): Record<string, T> {
  if (!isObject(value)) fail(where, 'an object', value);
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(value)) out[k] = item(v, \`\${where}.\${k}\`);
  return out;
}

function object(
  value: unknown,
  where: string,
  keys: readonly string[],
  o: DecodeOptions,
): Record<string, unknown> {
  if (!isObject(value)) fail(where, 'an object', value);
  if (o.strict === true) {
    const extra = Object.keys(value).filter((k) => !keys.includes(k));
    if (extra.length > 0) throw new ProtocolError(\`\${where}: unexpected key "\${extra[0]}"\`);
  }
  return value;
}

function need(r: Record<string, unknown>, key: string, where: string): unknown {
  if (!(key in r)) throw new ProtocolError(\`\${where}: missing "\${key}"\`);
  return r[key];
}

function anyOf<T>(value: unknown, where: string, options: readonly ((x: unknown, w: string) => T)[]): T {
  const problems: string[] = [];
  for (const option of options) {
    try {
      return option(value, where);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      problems.push(error.message);
    }
  }
  throw new ProtocolError(\`\${where}: matches no alternative (\${problems.join('; ')})\`);
}
`;

/** The whole generated module as text (pure: the tests compare it with the checked-in file). */
function generate(schema) {
  const defs = schema.$defs;
  const names = Object.keys(defs);
  const parts = [
    '// GENERATED by scripts/gen-protocol.js from src/generated/schema.json (the server\'s',
    '// `python -m envlayers.schema`). Do not edit: change the Python types, regenerate both.',
    '/* eslint-disable */',
    '',
    `export const SCHEMA_VERSION = ${JSON.stringify(schema['x-schemaVersion'])};`,
    '',
    RUNTIME,
  ];
  for (const name of names) parts.push(objectDef(name, defs[name]));
  const errorKinds = defs.ErrorData?.properties?.kind?.enum;
  if (!Array.isArray(errorKinds)) throw new Error('gen-protocol: ErrorData.kind must be an enum');
  parts.push(`/** Every \`kind\` the server puts in an error's \`data\`. */`);
  parts.push(`export const ERROR_KINDS = ${JSON.stringify(errorKinds)} as const;`);
  parts.push('export type ErrorKind = (typeof ERROR_KINDS)[number];\n');
  const commands = schema['x-commands'];
  const ids = Object.keys(commands);
  parts.push('/** The commands of the server, in the contract\'s order. */');
  parts.push(`export const SERVER_COMMANDS = ${JSON.stringify(ids)} as const;`);
  parts.push('export type ServerCommand = (typeof SERVER_COMMANDS)[number];\n');
  parts.push('/** Each command\'s result type. */');
  parts.push('export interface CommandResults {');
  for (const id of ids) parts.push(`  ${JSON.stringify(id)}: ${tsType(commands[id])};`);
  parts.push('}\n');
  parts.push('/** Each command\'s result decoder. */');
  parts.push('export const RESULT_DECODERS: { readonly [K in ServerCommand]: (value: unknown, o?: DecodeOptions) => CommandResults[K] } = {');
  for (const id of ids) parts.push(`  ${JSON.stringify(id)}: (value, o = {}) => ${decoder(commands[id], 'value', JSON.stringify(id))},`);
  parts.push('};\n');
  const notifications = schema['x-notifications'];
  for (const [method, node] of Object.entries(notifications)) {
    const name = refName(node);
    const constant = method.replace(/^.*\//, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    parts.push(`/** The \`${method}\` notification (params: ${name}). */`);
    parts.push(`export const ${constant} = ${JSON.stringify(method)};\n`);
  }
  return parts.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

/** The same module as JavaScript (ES module), transpiled by the extension's TypeScript. */
function generateJs(tsText) {
  const ts = require('typescript');
  const out = ts.transpileModule(tsText, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, removeComments: false },
  });
  return out.outputText.trimEnd() + '\n';
}

/** Every file the generator owns, with the text it should hold now. */
function outputs() {
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
  const text = generate(schema);
  return [
    [OUTPUT, text],
    [OUTPUT_JS, generateJs(text)],
  ];
}

function main(argv) {
  let stale = 0;
  for (const [file, text] of outputs()) {
    const shown = path.relative(process.cwd(), file);
    if (argv.includes('--check')) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (current !== text) {
        process.stderr.write(`${shown} is stale: run node scripts/gen-protocol.js\n`);
        stale += 1;
      }
    } else {
      fs.writeFileSync(file, text);
      process.stdout.write(`gen-protocol: wrote ${shown}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

module.exports = { generate, generateJs, outputs, SCHEMA, OUTPUT, OUTPUT_JS };
if (require.main === module) process.exitCode = main(process.argv.slice(2));
