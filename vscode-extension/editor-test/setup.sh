#!/usr/bin/env bash
# Sets up the real-VS-Code tier on a fresh machine (after ../../.ci/debian-packages.sh):
# code-server 4.100.3 and playwright-core from the npm registry (package-lock.json here), the
# native modules of VS Code built against Debian's headers, Debian's ripgrep in place of the
# binary @vscode/ripgrep would download, and a venv with debugpy for the debug helper extension.
# Everything lands in ignored folders under this one; a finished set-up is stamped and skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export npm_config_yes=true npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
stamp=node_modules/.editor-test-ready
key="$(sha256sum package.json package-lock.json setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -x .venv/bin/python ]; then
  echo "editor-test setup: ready"
  exit 0
fi
for tool in node npm rg chromium; do
  command -v "$tool" >/dev/null || { echo "editor-test setup: $tool is missing (run .ci/debian-packages.sh)" >&2; exit 1; }
done
rm -f "$stamp"
step() { echo "editor-test setup: $* ($(date +%T))"; }

step "npm ci (code-server, playwright-core)"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

vscode=node_modules/code-server/lib/vscode
step "VS Code's own modules"
(cd "$vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
step "rebuild VS Code's native modules"
(cd "$vscode" && npm rebuild kerberos node-pty @parcel/watcher @vscode/spdlog native-watchdog @vscode/deviceid --loglevel=error)
# @vscode/ripgrep's install script would download rg from a host we cannot reach.
mkdir -p "$vscode/node_modules/@vscode/ripgrep/bin"
ln -sfn "$(command -v rg)" "$vscode/node_modules/@vscode/ripgrep/bin/rg"
ln -sfn node_modules "$vscode/node_modules.asar"
ln -sfn code-linux.sh "$vscode/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "$vscode/bin/helpers/browser.sh"
step "built-in extensions' modules"
(cd "$vscode/extensions" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
step "rebuild argon2"
npm rebuild argon2 --loglevel=error

# The debug helper extension runs `python -m debugpy.adapter` from this venv.
step "venv with debugpy"
python="${EDITOR_TEST_PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'debugpy>=1.8,<2'

XDG_CONFIG_HOME="$here/node_modules/.config" node node_modules/code-server/out/node/entry.js --version
echo "$key" > "$stamp"
step "done"
