// The real-VS-Code harness: code-server (VS Code 1.100.3 in a browser) with the built .vsix
// installed, driven by playwright-core in Debian's chromium. Everything it starts runs in its own
// process group and is killed at the end; ports are chosen at run time.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
export const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EXT_DIR = path.resolve(HERE, '..');
export const REPO = path.resolve(EXT_DIR, '..');
export const ARTIFACTS = process.env.EDITOR_TEST_ARTIFACTS ?? path.join(HERE, 'artifacts');
const CODE_SERVER = path.join(HERE, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const CHROMIUM = process.env.EDITOR_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value; throws with `what` after `timeout` ms. */
export async function waitFor(what, probe, { timeout = 60_000, interval = 250 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(interval);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The uv the server should find on PATH: $EDITOR_TEST_UV, the repo .venv's, else PATH's. */
export function findUv() {
  const candidates = [process.env.EDITOR_TEST_UV, path.join(REPO, '.venv', 'bin', 'uv')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const c = path.join(dir, 'uv');
    if (dir && existsSync(c)) return c;
  }
  return undefined;
}

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopGroup(child, grace = 5_000) {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  killGroup(child, 'SIGTERM');
  const exited = once(child, 'exit');
  const timer = sleep(grace).then(() => 'timeout');
  if ((await Promise.race([exited, timer])) === 'timeout') {
    killGroup(child, 'SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }
  // Whatever is left in the group (the language server, debugpy) goes too.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is empty
  }
}

/**
 * One editor: a code-server and a browser showing it. `start()` installs the extensions, starts
 * code-server (retrying on a new port when it does not come up) and opens chromium.
 */
export class Editor {
  constructor({ vsix, helperVsix, settings = {}, env = {}, name = 'editor' }) {
    this.vsix = vsix;
    this.helperVsix = helperVsix;
    this.settings = settings;
    this.env = env;
    this.name = name;
    this.root = mkdtempSync(path.join(tmpdir(), 'envlayers-editor-'));
    this.extensionsDir = path.join(this.root, 'extensions');
    this.userDataDir = path.join(this.root, 'user-data');
    this.browserDir = path.join(this.root, 'chromium');
    this.home = path.join(this.root, 'home');
    for (const d of [this.extensionsDir, this.userDataDir, this.browserDir, this.home]) mkdirSync(d, { recursive: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    this.shot = 0;
    this.timings = {};
  }

  /** code-server's environment: isolated config and data folders, uv on PATH when asked. */
  serverEnv() {
    const env = { ...process.env, ...this.env };
    delete env.PYTHONPATH;
    delete env.PYTHONHOME;
    delete env.VSCODE_IPC_HOOK_CLI;
    env.XDG_CONFIG_HOME = path.join(this.home, '.config');
    env.XDG_DATA_HOME = path.join(this.home, '.local', 'share');
    env.XDG_CACHE_HOME = path.join(this.home, '.cache');
    return env;
  }

  async codeServer(args, options = {}) {
    return run(process.execPath, [CODE_SERVER, ...args], { env: this.serverEnv(), timeout: 180_000, ...options });
  }

  async install() {
    const t0 = Date.now();
    const dirs = ['--extensions-dir', this.extensionsDir, '--user-data-dir', this.userDataDir];
    for (const vsix of [this.vsix, this.helperVsix].filter(Boolean)) {
      const { stdout } = await this.codeServer(['--install-extension', vsix, ...dirs]);
      if (!/successfully installed/i.test(stdout)) throw new Error(`installing ${vsix}: ${stdout}`);
    }
    const { stdout } = await this.codeServer(['--list-extensions', '--show-versions', ...dirs]);
    this.installed = stdout.trim().split('\n');
    const userDir = path.join(this.userDataDir, 'User');
    mkdirSync(userDir, { recursive: true });
    writeFileSync(path.join(userDir, 'settings.json'), JSON.stringify(this.settings, null, 2));
    this.timings.install = Date.now() - t0;
  }

  async startServer(folder) {
    const t0 = Date.now();
    let lastError;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const port = await freePort();
      const logPath = path.join(ARTIFACTS, `${this.name}-code-server-${attempt}.log`);
      const log = createWriteStream(logPath);
      const child = spawn(
        process.execPath,
        [
          CODE_SERVER,
          '--auth', 'none',
          '--bind-addr', `127.0.0.1:${port}`,
          '--disable-telemetry',
          '--disable-update-check',
          '--extensions-dir', this.extensionsDir,
          '--user-data-dir', this.userDataDir,
          folder,
        ],
        { env: this.serverEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // Should this process die first, the group still goes (the server, its language server).
      const reap = () => killGroup(child, 'SIGKILL');
      process.once('exit', reap);
      child.once('exit', () => process.removeListener('exit', reap));
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      this.server = child;
      this.url = `http://127.0.0.1:${port}`;
      try {
        await waitFor(
          'code-server /healthz',
          async () => {
            if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}; see ${logPath}`);
            const res = await fetch(`${this.url}/healthz`);
            return res.ok;
          },
          { timeout: 60_000, interval: 500 },
        );
        this.timings.serverStart = Date.now() - t0;
        return;
      } catch (error) {
        lastError = error;
        await stopGroup(child);
      }
    }
    throw lastError;
  }

  async openBrowser() {
    this.context = await chromium.launchPersistentContext(this.browserDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 860 },
      deviceScaleFactor: 1,
      timeout: 120_000,
    });
    await this.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: this.url });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.setDefaultTimeout(30_000);
    this.consoleLog = createWriteStream(path.join(ARTIFACTS, `${this.name}-browser-console.log`));
    this.page.on('console', (msg) => this.consoleLog.write(`[${msg.type()}] ${msg.text()}\n`));
  }

  /** Opens `folder` in the workbench and waits for it to be ready. */
  async openFolder(folder) {
    const t0 = Date.now();
    await this.page.goto(`${this.url}/?folder=${encodeURIComponent(folder)}`, { timeout: 120_000 });
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    await this.page.locator('#workbench\\.parts\\.statusbar').waitFor({ timeout: 120_000 });
    this.timings[`open ${path.basename(folder)}`] = Date.now() - t0;
  }

  async start(folder) {
    await this.install();
    await this.startServer(folder);
    await this.openBrowser();
  }

  async stop() {
    try {
      await this.context?.close();
    } catch {
      // the browser is gone already
    }
    await stopGroup(this.server);
    this.consoleLog?.end();
  }

  cleanup() {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Writes `artifacts/NN-name.png` (and returns its path). */
  async screenshot(name, options = {}) {
    this.shot += 1;
    const file = path.join(ARTIFACTS, `${String(this.shot).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file, ...options });
    return file;
  }

  // -- the UI --------------------------------------------------------------------------------

  quickInput() {
    return this.page.locator('.quick-input-widget');
  }

  /** Closes menus, pickers and notifications' focus so a key press goes to the workbench. */
  async escape(times = 2) {
    for (let i = 0; i < times; i += 1) await this.page.keyboard.press('Escape');
  }

  /** Runs a palette command by its full title ("Env Layers: Add Layer (--with)…"). */
  async palette(title) {
    const widget = this.quickInput();
    await waitFor(`the command palette for "${title}"`, async () => {
      if (!(await widget.isVisible())) {
        await this.page.locator('.monaco-workbench').click({ position: { x: 700, y: 300 }, trial: true }).catch(() => {});
        await this.page.keyboard.press('F1');
      }
      await widget.locator('input').waitFor({ state: 'visible', timeout: 5_000 });
      return true;
    }, { timeout: 30_000, interval: 1_000 });
    const input = widget.locator('input');
    await input.fill(`>${title}`);
    const row = widget.locator('.monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    // The first row is the match: Enter runs it (a click can hit a row that is re-rendered).
    const label = (await widget.locator('.monaco-list-row').first().innerText()).split('\n')[0];
    if (!label.includes(title)) {
      await row.click();
    } else {
      await input.press('Enter');
    }
  }

  /** Opens a file by name through Quick Open (Ctrl+P). */
  async quickOpen(name) {
    await this.palette('Go to File...');
    const input = this.quickInput().locator('input');
    await input.fill(name);
    // Enter takes the first row: wait until the list has been filtered down to the file.
    const first = this.quickInput().locator('.monaco-list-row').first();
    await waitFor(`Quick Open to offer ${name} first`, async () => (await first.innerText()).split('\n')[0].trim() === name, {
      timeout: 30_000,
    });
    await input.press('Enter');
    await this.page.locator(`.editor-group-container.active .tab.active[data-resource-name="${name}"]`).first().waitFor();
  }

  /** From now on, records the text of every notification toast shown (even briefly). */
  async watchToasts() {
    await this.page.evaluate(() => {
      const w = window;
      w.__toasts = [];
      w.__toastObserver?.disconnect();
      const record = () => {
        for (const el of document.querySelectorAll('.notifications-toasts .notification-toast')) {
          const text = el.innerText;
          if (text && !w.__toasts.includes(text)) w.__toasts.push(text);
        }
      };
      w.__toastObserver = new MutationObserver(record);
      w.__toastObserver.observe(document.body, { childList: true, subtree: true, characterData: true });
      record();
    });
  }

  async seenToasts() {
    return this.page.evaluate(() => window.__toasts ?? []);
  }

  /** The texts of the visible notification toasts. */
  async toasts() {
    return this.page.locator('.notifications-toasts .notification-toast').allInnerTexts();
  }

  /** Waits for a toast whose text matches `re`; returns its text. */
  async waitToast(re, timeout = 60_000) {
    return waitFor(`a notification matching ${re}`, async () => (await this.toasts()).find((t) => re.test(t)), {
      timeout,
    });
  }

  /** Notifications in the notification center, including the ones whose toast timed out. */
  async allNotifications() {
    return this.page.evaluate(() =>
      [...document.querySelectorAll('.notification-list-item')].map((e) => e.innerText),
    );
  }

  async clearNotifications() {
    await this.palette('Notifications: Clear All Notifications');
  }

  /** The Env Layers status bar item's text. */
  async statusText() {
    const item = this.page.locator('#workbench\\.parts\\.statusbar [id^="envlayers.envlayers."]');
    if ((await item.count()) === 0) return undefined;
    return (await item.innerText()).trim();
  }

  async waitStatus(re, timeout = 120_000) {
    return waitFor(`the status bar to match ${re}`, async () => {
      const text = await this.statusText();
      return text !== undefined && re.test(text) ? text : undefined;
    }, { timeout });
  }
}

/** Packages the debugpy test helper into `dest` with the extension's own vsce. */
export async function packageHelper(dest) {
  const vsce = path.join(EXT_DIR, 'node_modules', '@vscode', 'vsce', 'vsce');
  await run(process.execPath, [vsce, 'package', '--no-dependencies', '--out', dest], {
    cwd: path.join(HERE, 'debug-helper'),
    timeout: 120_000,
  });
  return dest;
}

/** Writes the offline fixtures (wheels and workspaces) with the repo's Python. */
export async function makeFixtures(dest, installer) {
  const python = process.env.EDITOR_TEST_FIXTURE_PYTHON ?? path.join(REPO, '.venv', 'bin', 'python');
  const { stdout } = await run(python, [path.join(HERE, 'fixture.py'), dest, '--installer', installer], {
    timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** Runs `python -c code` and returns stdout (trimmed). */
export async function python(interpreter, code) {
  const { stdout } = await run(interpreter, ['-c', code], { timeout: 60_000, env: { ...process.env, PYTHONPATH: '' } });
  return stdout.trim();
}

export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}
