// A second, independent LSP client: drives `envlayers serve` over stdio with
// vscode-languageserver-protocol and prints the `envlayers.report` result as JSON. Every answer
// is also checked with the decoders generated from the server's schema (protocol.generated.mjs,
// written by vscode-extension/scripts/gen-protocol.js), strictly: an unknown key is an error.
// Usage: node wire.mjs <python> <workspace folder>
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  InitializeRequest,
  InitializedNotification,
  ExecuteCommandRequest,
  ShutdownRequest,
  ExitNotification,
} from "vscode-languageserver-protocol/node.js";
import { RESULT_DECODERS, decodeEnvironmentChanged, decodeErrorData } from "./protocol.generated.mjs";

const decodeErrors = [];
function check(what, decode, value) {
  try {
    decode(value, { strict: true });
  } catch (e) {
    decodeErrors.push(`${what}: ${e.message}`);
  }
}

const [python, folder] = process.argv.slice(2);
if (!python || !folder) {
  console.error("usage: node wire.mjs <python> <workspace folder>");
  process.exit(2);
}

const server = spawn(python, ["-m", "envlayers", "serve", "--stdio"], {
  stdio: ["pipe", "pipe", "inherit"],
});
const connection = createProtocolConnection(
  new StreamMessageReader(server.stdout),
  new StreamMessageWriter(server.stdin),
);
const changes = [];
connection.onNotification("envlayers/environmentChanged", (params) => changes.push(params));
connection.onNotification("window/logMessage", () => {});
connection.listen();

const timer = setTimeout(() => {
  console.error("wire.mjs: timed out");
  server.kill();
  process.exit(3);
}, 60000);

try {
  const folderUri = pathToFileURL(folder).href;
  const init = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: folderUri,
    capabilities: {},
    workspaceFolders: [{ uri: folderUri, name: "ws" }],
  });
  await connection.sendNotification(InitializedNotification.type, {});
  const commands = init.capabilities.executeCommandProvider?.commands ?? [];
  const ask = async (command) => {
    const result = await connection.sendRequest(ExecuteCommandRequest.type, {
      command,
      arguments: [{ workspace: folderUri }],
    });
    check(command, RESULT_DECODERS[command], result);
    return result;
  };
  const report = await ask("envlayers.report");
  const layers = await ask("envlayers.listLayers");
  // The server owns these two (the extension keeps no copy of their logic); older servers lack them.
  const compositions = commands.includes("envlayers.listCompositions")
    ? await ask("envlayers.listCompositions")
    : null;
  const profiles = commands.includes("envlayers.listProfiles") ? await ask("envlayers.listProfiles") : null;
  let error = null;
  try {
    await connection.sendRequest(ExecuteCommandRequest.type, {
      command: "envlayers.report",
      arguments: [{ workspace: 42 }],
    });
  } catch (e) {
    error = { code: e.code, data: e.data };
    check("error.data", decodeErrorData, e.data);
  }
  for (const params of changes) check("environmentChanged", decodeEnvironmentChanged, params);
  await connection.sendRequest(ShutdownRequest.type);
  await connection.sendNotification(ExitNotification.type);
  const code = await new Promise((resolve) => server.on("exit", resolve));
  clearTimeout(timer);
  process.stdout.write(
    JSON.stringify({
      serverInfo: init.serverInfo,
      commands,
      report,
      layers,
      compositions,
      profiles,
      error,
      decodeErrors,
      exitCode: code,
    }) + "\n",
  );
  connection.dispose();
} catch (e) {
  clearTimeout(timer);
  console.error("wire.mjs failed:", e);
  server.kill();
  process.exit(1);
}
