// Test-only: the `debugpy` debug adapter is real debugpy, started as `python -m debugpy.adapter`
// (as the Python Debugger extension does). With `debugpyTestHelper.traceFile` set, every Debug
// Adapter Protocol message is appended there as a JSON line, for the tests' artifacts.
'use strict';
const fs = require('node:fs');
const vscode = require('vscode');

function setting(key, fallback) {
  return vscode.workspace.getConfiguration('debugpyTestHelper').get(key) || fallback;
}

function trace(entry) {
  const file = setting('traceFile', '');
  if (file === '') return;
  try {
    fs.appendFileSync(file, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  } catch {
    // tracing is best effort
  }
}

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('debugpy', {
      createDebugAdapterDescriptor(session) {
        const python = setting('python', 'python3');
        trace({ event: 'adapter', python, configuration: session.configuration });
        return new vscode.DebugAdapterExecutable(python, ['-m', 'debugpy.adapter']);
      },
    }),
    vscode.debug.registerDebugAdapterTrackerFactory('debugpy', {
      createDebugAdapterTracker() {
        return {
          onWillReceiveMessage: (message) => trace({ to: 'adapter', message }),
          onDidSendMessage: (message) => trace({ from: 'adapter', message }),
          onError: (error) => trace({ error: String(error) }),
          onExit: (code, signal) => trace({ exit: code, signal }),
        };
      },
    }),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
