// The real-VS-Code tier: the built .vsix in code-server 4.100.3 (VS Code 1.100.3), driven through
// its UI by playwright-core in Debian's chromium. Each step asserts what is true on disk (the
// venv imports the package, the kernel names an interpreter that exists, the debuggee wrote its
// proof), not only what the UI shows, and writes a screenshot to artifacts/.
//
//   node --test editor-test/editor.test.mjs      (after editor-test/setup.sh and `npm run package`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test as nodeTest } from 'node:test';
import {
  ARTIFACTS,
  EXT_DIR,
  Editor,
  HERE,
  findUv,
  makeFixtures,
  packageHelper,
  python,
  readJson,
  sleep,
  waitFor,
} from './lib/harness.mjs';
import { slowFindLinks } from './lib/slowindex.mjs';

const VSIX = process.env.ENVLAYERS_TEST_VSIX ?? path.join(EXT_DIR, 'envlayers-0.1.0.vsix');
const STEP = { timeout: 240_000 };
const root = path.join(tmpdir(), `envlayers-editor-run-${process.pid}`);
const cacheDir = path.join(root, 'cache');
const jupyterDir = path.join(root, 'jupyter');
const timings = {};
let editor;
let fx;
let uv;
let slow;

/** A step: on failure it leaves a screenshot and the notifications in artifacts/. */
function test(name, options, fn) {
  nodeTest(name, options, async (t) => {
    // Whatever a failed step left open (a picker, a menu) must not take this step's keys.
    await editor?.escape(2).catch(() => {});
    try {
      await fn(t);
    } catch (error) {
      const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40);
      await editor?.screenshot(`FAILED-${slug}`).catch(() => {});
      const notes = await editor?.allNotifications().catch(() => []);
      const toasts = await editor?.toasts().catch(() => []);
      t.diagnostic(`notifications: ${JSON.stringify({ notes, toasts })}`);
      throw error;
    }
  });
}

/**
 * A README picture: artifacts/readme/NAME.png, and ../images/NAME.png too when
 * EDITOR_TEST_UPDATE_IMAGES=1 (look at each before committing it).
 */
async function readmePicture(name, clip) {
  const dirs = [path.join(ARTIFACTS, 'readme')];
  if (process.env.EDITOR_TEST_UPDATE_IMAGES === '1') dirs.push(path.join(EXT_DIR, 'images'));
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    await editor.page.screenshot({ path: path.join(dir, `${name}.png`), ...(clip ? { clip } : {}) });
  }
}

/** The active composition of a workspace as `.envlayers/active.json` says, and its python. */
function composedInterpreters(ws) {
  const dir = path.join(ws, '.envlayers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && existsSync(path.join(dir, name, 'pyvenv.cfg')))
    .map((name) => path.join(dir, name, 'bin', 'python'));
}

function withLayer(ws) {
  return composedInterpreters(ws).filter((p) => path.basename(path.dirname(path.dirname(p))).startsWith('with-'));
}


/** The interpreter of the composition `.envlayers/active.json` names (the server's truth). */
function activeInterpreter(ws) {
  const active = readJson(path.join(ws, '.envlayers', 'active.json'));
  return path.join(ws, '.envlayers', active.name, 'bin', 'python');
}

/** Which installer put `dist` into `venv` (its dist-info INSTALLER file: "uv" or "pip"). */
function installerOf(venv, dist) {
  const lib = path.join(venv, 'lib');
  for (const py of readdirSync(lib)) {
    const site = path.join(lib, py, 'site-packages');
    for (const entry of existsSync(site) ? readdirSync(site) : []) {
      if (entry.startsWith(`${dist}-`) && entry.endsWith('.dist-info')) {
        return readFileSync(path.join(site, entry, 'INSTALLER'), 'utf8').trim();
      }
    }
  }
  return undefined;
}

function kernelSpecs() {
  const dir = path.join(jupyterDir, 'kernels');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => path.join(dir, name, 'kernel.json'))
    .filter((f) => existsSync(f));
}

/** The pid of the bundled language server that code-server runs for this editor. */
function serverPids() {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(editor.extensionsDir) && line.includes('serve --stdio'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

async function problemsText() {
  const panel = editor.page.locator('.markers-panel');
  if (!(await panel.isVisible())) {
    await editor.palette('View: Focus Problems (Errors, Warnings, Infos)');
    await panel.waitFor({ state: 'visible' });
  }
  return (await panel.innerText()).trim();
}

async function waitProblems(predicate, what, timeout = 60_000) {
  return waitFor(what, async () => {
    const text = await problemsText();
    return predicate(text) ? text : undefined;
  }, { timeout, interval: 1_000 });
}

async function trustDialog(answer) {
  const button = editor.page.getByRole('button', { name: answer });
  await button.waitFor({ state: 'visible', timeout: 60_000 });
  await editor.screenshot(`trust-dialog-${answer.startsWith('Yes') ? 'yes' : 'no'}`);
  await button.click();
  await editor.page.locator('.monaco-dialog-box').waitFor({ state: 'hidden' });
}

/** Applies the focused quick fix with Enter (a click lands on the menu's pointer block). */
async function applyQuickFix(row) {
  await waitFor('the quick fix to be focused', async () => /focused/.test((await row.getAttribute('class')) ?? ''), { timeout: 10_000 })
    .catch(() => editor.page.keyboard.press('ArrowDown'));
  await editor.page.keyboard.press('Enter');
  await row.waitFor({ state: 'hidden' });
}

async function openFile(name) {
  await editor.quickOpen(name);
}

async function editorText() {
  return editor.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText();
}

describe('the extension in real VS Code (code-server)', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    const t0 = Date.now();
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run \`make test-extension\` (or npm run package) first`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    rmSync(ARTIFACTS, { recursive: true, force: true });
    uv = findUv();
    fx = await makeFixtures(path.join(root, 'fixtures'), uv === undefined ? 'pip' : 'uv');
    slow = await slowFindLinks(fx.wheels, 15_000);
    // The racing workspace syncs with pip (as the trial did) from a find-links page that
    // answers slowly, so its first sync lasts long enough to type "Add Layer" into.
    const racing = path.join(fx.racing, 'pyproject.toml');
    writeFileSync(
      racing,
      readFileSync(racing, 'utf8')
        .replace(JSON.stringify(fx.wheels), JSON.stringify(slow.url))
        .replace(/^installer = .*$/m, 'installer = "pip"'),
    );
    if (process.env.EDITOR_TEST_RACING_PIP === '1') {
      writeFileSync(path.join(fx.racing, '.vscode', 'settings.json'), JSON.stringify({ 'envlayers.installer': 'pip' }));
    }
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    if (uv !== undefined) symlinkSync(uv, path.join(bin, 'uv'));
    const helper = await packageHelper(path.join(root, 'debugpy-test-helper.vsix'));
    editor = new Editor({
      vsix: VSIX,
      helperVsix: helper,
      name: 'editor',
      settings: {
        'workbench.startupEditor': 'none',
        'workbench.colorTheme': 'Default Dark Modern',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'workbench.editor.enablePreview': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'editor.minimap.enabled': false,
        'editor.autoClosingQuotes': 'never',
        'editor.autoClosingBrackets': 'never',
        'files.autoSave': 'off',
        'window.restoreWindows': 'none',
        'debug.openDebug': 'openOnDebugBreak',
        'envlayers.setInterpreter': 'never',
        'envlayers.server.verbose': true,
        'debugpyTestHelper.python': path.join(HERE, '.venv', 'bin', 'python'),
        'debugpyTestHelper.traceFile': path.join(ARTIFACTS, 'debug-adapter-trace.jsonl'),
      },
      env: {
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        ENVLAYERS_CACHE_DIR: cacheDir,
        JUPYTER_DATA_DIR: jupyterDir,
        // Keeps VS Code from replacing this environment (PATH with uv) by a login shell's.
        VSCODE_CLI: '1',
      },
    });
    await editor.start(fx.trusted);
    timings.setup = Date.now() - t0;
  });

  after(async () => {
    await editor?.stop();
    await slow?.close();
    const all = { ...timings, ...(editor?.timings ?? {}) };
    console.log(`# editor tier timings (ms): ${JSON.stringify(all)}`);
    if (process.env.EDITOR_TEST_KEEP === undefined) {
      editor?.cleanup();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('the trusted workspace opens and the extension starts its bundled server', STEP, async () => {
    await editor.openFolder(fx.trusted);
    await trustDialog('Yes, I trust the authors');
    await editor.waitStatus(/base/, 90_000);
    assert.equal(serverPids().length, 1, 'one bundled server runs');
    await editor.screenshot('opened');
    // The palette lists the commands under "Env Layers".
    await editor.page.keyboard.press('F1');
    const widget = editor.quickInput();
    await widget.locator('input').fill('>Env Layers');
    await widget.locator('.monaco-list-row', { hasText: 'Env Layers: Sync Workspace Environment' }).waitFor();
    const titles = await widget.locator('.monaco-list-row').allInnerTexts();
    for (const title of ['Sync Workspace Environment', 'Add Layer (--with)…', 'Use Profile…', 'Show Composed Environment', 'Restart Server']) {
      assert.ok(titles.some((t) => t.includes(`Env Layers: ${title}`)), `${title} in ${JSON.stringify(titles)}`);
    }
    const box = await widget.boundingBox();
    await readmePicture('palette', { x: box.x - 8, y: Math.max(0, box.y - 8), width: box.width + 16, height: Math.min(box.height + 16, 420) });
    await editor.escape(1);
  });

  test('pyproject.toml shows the "does not exist yet" diagnostic before any sync', STEP, async () => {
    await openFile('pyproject.toml');
    const text = await waitProblems((t) => /does not exist yet/.test(t), 'the missing-environment diagnostic');
    assert.match(text, /envlayers/);
    assert.equal(existsSync(path.join(fx.trusted, '.venv')), false, 'nothing synced yet');
    await editor.screenshot('diagnostic-missing');
  });

  test('Sync: a progress notification, then the diagnostics clear and .venv imports alpha 1.0', STEP, async (t) => {
    const t0 = Date.now();
    await editor.watchToasts();
    await editor.palette('Env Layers: Sync Workspace Environment');
    const done = await editor.waitToast(/environment synced/, 120_000);
    assert.match(done, /1 installed/);
    const seen = await editor.seenToasts();
    t.diagnostic(`notifications seen: ${JSON.stringify(seen)}`);
    const progress = seen.filter((text) => /Env Layers: .*sync/i.test(text) && !/synced/.test(text));
    assert.ok(progress.length > 0, `a progress notification: ${JSON.stringify(seen)}`);
    assert.ok(progress.some((text) => /Cancel/.test(text)), `with a Cancel button: ${JSON.stringify(progress)}`);
    await waitProblems((t) => !/does not exist yet|out of sync/.test(t), 'the diagnostics to clear');
    await editor.screenshot('synced');
    const venvPython = path.join(fx.trusted, '.venv', 'bin', 'python');
    assert.equal(await python(venvPython, 'import alpha; print(alpha.__version__)'), '1.0');
    if (uv !== undefined) assert.equal(installerOf(path.join(fx.trusted, '.venv'), 'alpha'), 'uv');
    timings.sync = Date.now() - t0;
  });

  test('Use Profile: the quick pick lists "tools"; the status bar says "tools: base + 1 layer"', STEP, async () => {
    await editor.palette('Env Layers: Use Profile…');
    const row = editor.quickInput().locator('.monaco-list-row', { hasText: 'tools' });
    await row.waitFor();
    await editor.screenshot('profile-pick');
    await editor.quickInput().locator('input').press('Enter');
    await editor.waitStatus(/tools: base \+ 1 layer/);
    const tools = path.join(fx.trusted, '.envlayers', 'tools', 'bin', 'python');
    assert.equal(await python(tools, 'import zeta, alpha; print(zeta.__version__, alpha.__version__)'), '1.0 1.0');
    await editor.screenshot('profile-composed');
  });

  test('Add Layer: "plugin" typed into the input box; the status bar says "base + 1 layer"', STEP, async () => {
    const t0 = Date.now();
    await editor.palette('Env Layers: Add Layer (--with)…');
    const widget = editor.quickInput();
    // "tools" is not a recent layer (profiles are not remembered), so the input box opens directly.
    await widget.locator('input').waitFor();
    await widget.locator('input').fill('plugin');
    await editor.screenshot('add-layer-input');
    await widget.locator('input').press('Enter');
    const text = await editor.waitStatus(/^(?!.*tools).*base \+ 1 layer$/);
    assert.doesNotMatch(text, /tools/);
    const composed = activeInterpreter(fx.trusted);
    assert.match(composed, /[/]with-[^/]+[/]bin[/]python$/);
    assert.ok(existsSync(composed), `${composed} exists`);
    assert.equal(await python(composed, 'import plugin, alpha; print(plugin.__version__)'), '1.0');
    await editor.screenshot('status-bar');
    timings.addLayer = Date.now() - t0;
    // The status item's tooltip names the interpreter.
    await editor.clearNotifications();
    const item = editor.page.locator('#workbench\\.parts\\.statusbar [id^="envlayers.envlayers."]');
    await item.hover();
    const hover = editor.page.locator('.monaco-hover, .workbench-hover').filter({ hasText: composed }).first();
    await hover.waitFor({ timeout: 15_000 });
    const bar = await editor.page.locator('#workbench\\.parts\\.statusbar').boundingBox();
    const tip = await hover.boundingBox();
    const top = Math.max(0, Math.min(tip.y, bar.y) - 10);
    await readmePicture('status-bar', { x: 0, y: top, width: Math.min(900, Math.max(tip.x + tip.width + 20, 500)), height: bar.y + bar.height - top });
    await editor.page.mouse.move(700, 300);
  });

  test('Show Composed Environment: the report view renders the composition', STEP, async () => {
    await editor.palette('Env Layers: Show Composed Environment');
    const composed = activeInterpreter(fx.trusted);
    const body = editor.page.frameLocator('iframe.webview').frameLocator('#active-frame').locator('body');
    const text = await waitFor('the rendered report', async () => {
      const t = await body.innerText({ timeout: 2_000 });
      return /base \+ 1 layer/.test(t) && t.includes(composed) ? t : undefined;
    }, { timeout: 60_000, interval: 1_000 });
    assert.match(text, /plugin/);
    assert.match(text, /in sync with pyproject\.toml/);
    await editor.screenshot('report-view');
    await editor.palette('View: Hide Panel');
    await editor.clearNotifications();
    await sleep(500);
    await readmePicture('report-view');
  });

  test('Copy Interpreter Path: pasted into an untitled editor, it is the composed interpreter', STEP, async () => {
    await editor.palette('Env Layers: Copy Interpreter Path');
    const composed = activeInterpreter(fx.trusted);
    await editor.waitToast(new RegExp(`copied ${composed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    await editor.palette('File: New Untitled Text File');
    await editor.page.locator('.editor-group-container.active .monaco-editor textarea').first().waitFor();
    await editor.page.keyboard.press('Control+V');
    const pasted = await waitFor('the pasted path', async () => {
      const t = (await editorText()).replace(/\u00a0/g, ' ').trim();
      return t.length > 0 ? t : undefined;
    });
    assert.equal(pasted, composed);
    assert.ok(existsSync(pasted));
    await editor.screenshot('pasted-interpreter');
    await editor.palette('View: Revert and Close Editor');
  });

  test('Install Jupyter Kernel: kernel.json names the composed interpreter, which runs ipykernel', STEP, async () => {
    await editor.palette('Env Layers: Install Jupyter Kernel');
    const toast = await editor.waitToast(/installed the Jupyter kernel/, 180_000);
    await editor.screenshot('kernel-installed');
    const name = /kernel "([^"]+)"/.exec(toast)?.[1];
    assert.ok(name !== undefined, toast);
    // The kernel's composition (the layer plus ipykernel) is now the active one.
    const composed = activeInterpreter(fx.trusted);
    const file = path.join(path.dirname(path.dirname(composed)), 'share', 'jupyter', 'kernels', name, 'kernel.json');
    assert.ok(existsSync(file), `${file} exists`);
    const spec = readJson(file);
    assert.equal(spec.argv[0], composed);
    assert.ok(existsSync(spec.argv[0]));
    assert.equal(await python(spec.argv[0], 'import plugin, ipykernel; print(plugin.__version__)'), '1.0');
  });

  test(
    'after Install Jupyter Kernel, Copy Interpreter Path gives the composition it made active',
    STEP, // was a bug: installKernel composed a new active composition without environmentChanged
    async () => {
      await editor.clearNotifications();
      await editor.palette('Env Layers: Copy Interpreter Path');
      const toast = await editor.waitToast(/copied /);
      assert.equal(toast.replace(/^[^]*copied /, '').split('\n')[0].trim(), activeInterpreter(fx.trusted));
    },
  );

  test('Debug: an "envlayers": true launch stops at a breakpoint and runs on the composed interpreter', STEP, async () => {
    const proof = path.join(fx.trusted, 'proof.json');
    await openFile('app.py');
    const line = readFileSync(path.join(fx.trusted, 'app.py'), 'utf8').split('\n').findIndex((l) => l.startsWith('stopped_here')) + 1;
    await editor.palette('Go to Line/Column...');
    await editor.quickInput().locator('input').fill(`:${line}`);
    await editor.quickInput().locator('input').press('Enter');
    await editor.palette('Debug: Toggle Breakpoint');
    await editor.page.locator('.codicon-debug-breakpoint').first().waitFor();
    await editor.palette('Debug: Start Debugging');
    await editor.page.locator('.debug-top-stack-frame-line, .debug-top-stack-frame').first().waitFor({ timeout: 120_000 });
    await editor.page.locator('.debug-toolbar').waitFor();
    await editor.screenshot('debug-breakpoint');
    assert.equal(existsSync(proof), false, 'stopped before the proof is written');
    await editor.palette('Debug: Continue');
    const data = await waitFor('proof.json', () => (existsSync(proof) ? readJson(proof) : undefined), { timeout: 60_000 });
    const composed = activeInterpreter(fx.trusted);
    assert.equal(data.executable, composed);
    assert.equal(realpathSync(data.prefix), realpathSync(path.dirname(path.dirname(composed))));
    assert.equal(data.plugin_version, '1.0');
    assert.ok(data.plugin_file.startsWith(cacheDir), `plugin comes from its layer in the cache: ${data.plugin_file}`);
    await editor.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
    await editor.screenshot('debug-finished');
  });

  test('Quick fix: an edit puts .venv out of sync; "Sync workspace environment" fixes it', STEP, async () => {
    await openFile('pyproject.toml');
    const file = path.join(fx.trusted, 'pyproject.toml');
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('"alpha==1.0",')) + 1;
    await editor.palette('Go to Line/Column...');
    await editor.quickInput().locator('input').fill(`:${line}`);
    await editor.quickInput().locator('input').press('Enter');
    await editor.page.keyboard.press('End');
    await editor.page.keyboard.press('Enter');
    await editor.page.keyboard.type('"epsilon",');
    await editor.palette('File: Save');
    await waitFor('the saved edit', () => readFileSync(file, 'utf8').includes('    "epsilon",\n'));
    await waitProblems((t) => /out of sync/.test(t), 'the out-of-sync diagnostic');
    await editor.screenshot('diagnostic-out-of-sync');
    // Put the cursor on the diagnostic and ask for its quick fixes.
    await editor.page.locator('.editor-group-container.active .monaco-editor').first().click({ position: { x: 200, y: 10 } });
    await editor.palette('Go to Next Problem in Files (Error, Warning, Info)');
    await editor.palette('Quick Fix...');
    const fix = editor.page.locator('.action-widget .monaco-list-row', { hasText: 'Sync workspace environment' });
    await fix.waitFor({ timeout: 30_000 });
    await editor.screenshot('quick-fix');
    await applyQuickFix(fix);
    const venvPython = path.join(fx.trusted, '.venv', 'bin', 'python');
    await waitFor('epsilon in .venv', () => python(venvPython, 'import epsilon; print(1)').then((o) => o === '1'), { timeout: 120_000 });
    await waitProblems((t) => !/out of sync/.test(t), 'the diagnostic to clear');
    await editor.screenshot('quick-fix-done');
  });

  test('Restart Server: a new server process answers', STEP, async () => {
    const [before] = serverPids();
    assert.ok(before !== undefined);
    await editor.palette('Env Layers: Restart Server');
    await waitFor('a new server process', () => {
      const now = serverPids();
      return now.length === 1 && now[0] !== before;
    }, { timeout: 90_000 });
    // The new server computes the report again: the status bar shows the composition.
    await editor.waitStatus(/base \+ 1 layer/, 90_000);
    await editor.palette('Env Layers: Show Composed Environment');
    await editor.screenshot('restarted');
  });

  test('Restricted Mode: nothing is synced or installed, and the message says why', STEP, async () => {
    await editor.openFolder(fx.restricted);
    await trustDialog("No, I don't trust the authors");
    await editor.page.locator('#status\\.workspaceTrust').waitFor();
    await editor.waitStatus(/base|Env Layers/, 90_000);
    const before = kernelSpecs().length;
    for (const [title, action] of [
      ['Env Layers: Sync Workspace Environment', 'Syncing the workspace environment'],
      ['Env Layers: Add Layer (--with)…', 'Composing layers'],
      ['Env Layers: Install Jupyter Kernel', 'Installing a Jupyter kernel'],
    ]) {
      await editor.palette(title);
      const text = await editor.waitToast(new RegExp(`${action.replace(/[()]/g, '\\$&')} is disabled in Restricted Mode`));
      assert.match(text, /Trust this workspace/);
      if (title.includes('Sync')) await editor.screenshot('restricted-message');
      await editor.clearNotifications();
    }
    // The quick fix asks the server directly: it is gated too.
    await openFile('pyproject.toml');
    await waitProblems((t) => /does not exist yet/.test(t), 'the missing-environment diagnostic');
    await editor.palette('Go to Next Problem in Files (Error, Warning, Info)');
    await editor.palette('Quick Fix...');
    const fix = editor.page.locator('.action-widget .monaco-list-row', { hasText: 'Sync workspace environment' });
    await fix.waitFor({ timeout: 30_000 });
    await applyQuickFix(fix);
    await editor.waitToast(/Syncing the workspace environment is disabled in Restricted Mode/);
    await sleep(3_000);
    assert.equal(existsSync(path.join(fx.restricted, '.venv')), false, 'no .venv in Restricted Mode');
    assert.equal(existsSync(path.join(fx.restricted, '.envlayers')), false, 'no composition in Restricted Mode');
    assert.equal(kernelSpecs().length, before, 'no kernel installed in Restricted Mode');
  });

  test(
    'Add Layer entered while the first sync still runs is done (or refused with a message)',
    STEP,
    async () => {
      await editor.openFolder(fx.racing);
      await trustDialog('Yes, I trust the authors');
      await editor.waitStatus(/base/, 90_000);
      await editor.watchToasts();
      await editor.palette('Env Layers: Sync Workspace Environment');
      await editor.waitToast(/Env Layers: .*sync/i, 30_000);
      await editor.palette('Env Layers: Add Layer (--with)…');
      const input = editor.quickInput().locator('input');
      await input.waitFor();
      await input.fill('plugin');
      await input.press('Enter');
      const enteredAt = Date.now();
      assert.equal(existsSync(path.join(fx.racing, '.venv', 'bin', 'python')) && (await isSynced(fx.racing)), false,
        'the first sync was still running when the layer was entered');
      await editor.waitToast(/environment synced/, 120_000);
      const outcome = await waitFor('the layer composed or a message', async () => {
        const [composed] = withLayer(fx.racing);
        if (composed !== undefined && (await editor.statusText())?.includes('base + 1 layer')) return { composed };
        const msg = (await editor.seenToasts()).find((t) => /busy|already|queued|wait|running/i.test(t));
        return msg === undefined ? undefined : { msg };
      }, { timeout: 90_000, interval: 1_000 }).catch(() => undefined);
      await editor.screenshot('racing');
      assert.ok(outcome !== undefined, `nothing happened ${Math.round((Date.now() - enteredAt) / 1000)} s after "Add Layer"`);
      if (outcome.composed !== undefined) {
        assert.equal(await python(outcome.composed, 'import plugin; print(plugin.__version__)'), '1.0');
      }
    },
  );

  test(
    'pyproject.toml\'s `installer = "pip"` is what the editor\'s sync uses',
    STEP, // was a bug: the editor's default installer "auto" overrode pyproject.toml's
    async () => {
      assert.match(readFileSync(path.join(fx.racing, 'pyproject.toml'), 'utf8'), /^installer = "pip"$/m);
      assert.equal(installerOf(path.join(fx.racing, '.venv'), 'alpha'), 'pip');
    },
  );

  test('Use Script Environment: a PEP 723 script in the editor gets its own composed interpreter', STEP, async () => {
    // The script runs isolated from the open project (fx.racing), so its offline sources are in
    // its own block's [tool.envlayers] table, not the project's pyproject.toml.
    const script = path.join(fx.racing, 'tool.py');
    writeFileSync(script, [
      '# /// script',
      '# dependencies = ["plugin"]',
      '# [tool.envlayers]',
      '# no-index = true',
      `# find-links = [${JSON.stringify(fx.wheels)}]`,
      '# ///',
      'import plugin',
      '',
      'print(plugin.__version__)',
      '',
    ].join('\n'));
    const scripts = path.join(cacheDir, 'scripts', 'v1');
    const composedScripts = () => (existsSync(scripts) ? readdirSync(scripts) : [])
      .map((hash) => path.join(scripts, hash, '.envlayers', 'script', 'bin', 'python'))
      .filter((p) => existsSync(p));
    assert.deepEqual(composedScripts(), [], 'no script environment before the command');
    await openFile('tool.py');
    await editor.waitStatus(/tool\.py: no environment$/, 60_000);
    await editor.screenshot('script-no-environment');
    await editor.palette('Env Layers: Use Script Environment');
    await editor.waitStatus(/tool\.py: 1 layer$/, 180_000);
    const [composed, ...others] = composedScripts();
    assert.ok(composed !== undefined, `a composed interpreter under ${scripts}`);
    assert.deepEqual(others, [], 'one script environment');
    assert.equal(await python(composed, 'import plugin; print(plugin.__version__)'), '1.0');
    assert.equal(execFileSync(composed, [script], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' } }).trim(), '1.0');
    // Isolated from the project: the project's dependency is not in the script's environment.
    await assert.rejects(python(composed, 'import alpha'), 'alpha (the project\'s) is not in the script\'s environment');
    await editor.screenshot('script-environment');
  });
});

async function isSynced(ws) {
  try {
    return (await python(path.join(ws, '.venv', 'bin', 'python'), 'import alpha; print(1)')) === '1';
  } catch {
    return false;
  }
}
