// A second, independent LSP client: drives `envlayers serve` over stdio with
// vscode-languageserver-protocol and prints the `envlayers.report` result as JSON.
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
  const report = await connection.sendRequest(ExecuteCommandRequest.type, {
    command: "envlayers.report",
    arguments: [{ workspace: folderUri }],
  });
  let error = null;
  try {
    await connection.sendRequest(ExecuteCommandRequest.type, {
      command: "envlayers.report",
      arguments: [{ workspace: 42 }],
    });
  } catch (e) {
    error = { code: e.code, data: e.data };
  }
  await connection.sendRequest(ShutdownRequest.type);
  await connection.sendNotification(ExitNotification.type);
  const code = await new Promise((resolve) => server.on("exit", resolve));
  clearTimeout(timer);
  process.stdout.write(
    JSON.stringify({ serverInfo: init.serverInfo, commands, report, error, exitCode: code }) + "\n",
  );
  connection.dispose();
} catch (e) {
  clearTimeout(timer);
  console.error("wire.mjs failed:", e);
  server.kill();
  process.exit(1);
}
