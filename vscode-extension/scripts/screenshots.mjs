// Renders the README pictures from the extension's own code (status text, palette titles, the
// report markdown) into VS Code-like HTML, and screenshots them with headless Chromium.
// Usage: npm run compile && node scripts/screenshots.mjs [chromium]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);
require(path.join(root, 'out/test/shim/register.js'));
const { renderReport } = require(path.join(root, 'out/src/reportView.js'));
const { describeStatus } = require(path.join(root, 'out/src/status.js'));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const chromium = process.argv[2] ?? '/usr/bin/chromium';

const ws = '/home/ada/projects/weather-app';
const composed = `${ws}/.envlayers/notebook`;
const report = {
  schemaVersion: 1,
  workspace: ws,
  interpreter: `${composed}/bin/python`,
  baseInterpreter: `${ws}/.venv/bin/python`,
  pythonVersion: '3.12.7',
  virtualEnv: composed,
  sysPath: [
    '~/.cache/envlayers/layers/v1/5f0c2a9e/lib/python3.12/site-packages',
    '~/.cache/envlayers/layers/v1/b81d44e0/lib/python3.12/site-packages',
    `${ws}/.venv/lib/python3.12/site-packages`,
    `${ws}/src`,
  ],
  pythonPath: '',
  pathPrefix: [],
  env: { VIRTUAL_ENV: composed, PATH: `${composed}/bin:~/.cache/envlayers/layers/v1/5f0c2a9e/bin:${ws}/.venv/bin:/usr/bin` },
  layers: [
    { key: '5f0c2a9e', path: '~/.cache/envlayers/layers/v1/5f0c2a9e', requirements: ['jupyterlab', 'ipykernel'], packages: { jupyterlab: '4.3.4', ipykernel: '6.29.5', 'jupyter-server': '2.15.0', tornado: '6.4.2' }, reused: true },
    { key: 'b81d44e0', path: '~/.cache/envlayers/layers/v1/b81d44e0', requirements: ['pandas>=2'], packages: { pandas: '2.2.3', numpy: '2.2.1', 'python-dateutil': '2.9.0' }, reused: false },
  ],
  satisfiedByBase: ['requests'],
  conflicts: [{ name: 'numpy', version: '2.2.1', source: 'b81d44e0', shadows: [{ version: '1.26.4', source: 'workspace' }], breaks: ['legacy-stats 0.4 requires numpy<2'] }],
  sync: { state: 'in-sync', installed: [], removed: [], extraneous: [] },
};

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function inline(s) {
  return esc(s)
    .replace(/``(.+?)``|`(.+?)`/g, (_, a, b) => `<code>${a ?? b}</code>`)
    .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')
    .replace(/(^|\s)_(.+?)_(?=\s|$)/g, '$1<i>$2</i>')
    .replace(/\\\|/g, '|');
}
/** Just the markdown that renderReport writes: headings, tables, lists, quotes, paragraphs. */
function markdown(md) {
  const out = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('|')) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith('|')) rows.push(lines[i++]);
      i--;
      const cells = (r) => r.slice(1, -1).split(/(?<!\\)\|/).map((c) => inline(c.trim()));
      const [head, , ...body] = rows;
      const h = cells(head);
      out.push('<table>' + (h.every((c) => c === '') ? '' : `<tr>${h.map((c) => `<th>${c}</th>`).join('')}</tr>`) + body.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</table>');
    } else if (/^#{1,3} /.test(line)) {
      const n = line.indexOf(' ');
      out.push(`<h${n}>${inline(line.slice(n + 1))}</h${n}>`);
    } else if (/^(- |\d+\. )/.test(line)) {
      out.push(`<li>${inline(line.replace(/^(- |\d+\. )/, ''))}</li>`);
    } else if (line.startsWith('> ')) {
      out.push(`<blockquote>${inline(line.slice(2))}</blockquote>`);
    } else if (line.trim() !== '') {
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  return out.join('\n');
}

const css = `body{margin:0;background:#1f1f1f;color:#ccc;font:13px/1.5 "DejaVu Sans",sans-serif}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;color:#d7ba7d;background:#2b2b2b;padding:1px 4px;border-radius:3px}
.tab{background:#181818;border-bottom:1px solid #2b2b2b;padding:8px 16px;color:#fff}
.doc{padding:8px 32px 24px} h1{font-size:22px;color:#fff;border-bottom:1px solid #333;padding-bottom:6px} h2{font-size:17px;color:#fff;margin-top:22px} h3{font-size:14px;color:#fff}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #3c3c3c;padding:3px 10px;text-align:left} th{background:#252526}
blockquote{border-left:4px solid #cca700;margin:8px 0;padding:4px 12px;background:#2a2614} li{margin-left:18px}
.bar{position:fixed;bottom:0;left:0;right:0;height:22px;background:#007acc;color:#fff;display:flex;align-items:center;font-size:12px}
.item{padding:0 10px;height:22px;display:flex;align-items:center}
.warn{background:#cca700;color:#000} .err{background:#c72e0f}
.palette{width:640px;margin:40px auto;background:#252526;box-shadow:0 0 12px #000;border:1px solid #454545}
.palette input{width:100%;box-sizing:border-box;background:#3c3c3c;color:#ccc;border:1px solid #007fd4;padding:6px;font-size:13px}
.row{padding:4px 10px;display:flex;justify-content:space-between} .row.sel{background:#04395e;color:#fff} .cat{color:#999}
.tip{white-space:pre;background:#252526;border:1px solid #454545;padding:8px 10px;position:fixed;left:12px;font-size:12px}`;

function page(body) {
  return `<!doctype html><html><head><meta charset="utf-8"><style>${css}</style></head><body>${body}</body></html>`;
}
const icon = (text) => text.replace('$(layers)', '&#9776;').replace('$(warning)', '&#9888;').replace('$(error)', '&#10006;').replace('$(sync~spin)', '&#8635;');

const tmp = mkdtempSync(path.join(tmpdir(), 'envlayers-shots-'));
function shot(name, html, width, height) {
  const file = path.join(tmp, `${name}.html`);
  writeFileSync(file, page(html));
  execFileSync(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${path.join(tmp, `profile-${name}`)}`, '--hide-scrollbars',
    `--window-size=${width},${height}`, `--screenshot=${path.join(root, 'images', `${name}.png`)}`,
    `file://${file}`,
  ], { stdio: 'ignore' });
}

shot('report-view', `<div class="tab">weather-app environment.md (preview)</div><div class="doc">${markdown(renderReport(report))}</div>`, 980, 1500);

const states = [
  ['running', { ...report, conflicts: [] }, 'In sync, two layers'],
  ['running', report, 'A conflict: warning look'],
  ['running', { ...report, layers: [], conflicts: [], virtualEnv: `${ws}/.venv`, sync: { ...report.sync, state: 'out-of-sync' } }, 'Base out of sync'],
  ['failed', undefined, 'Server not running'],
];
const bars = states.map(([state, r, caption], i) => {
  const v = describeStatus(state, r);
  const cls = v.look === 'warning' ? 'warn' : v.look === 'error' ? 'err' : '';
  return `<div style="position:absolute;top:${i * 58 + 10}px;left:0;right:0"><div style="padding:2px 12px;color:#999">${esc(caption)}: <code>${esc(v.tooltip.split('\n')[0])}</code></div><div class="bar" style="position:static"><div class="item">&#x2387; main</div><div class="item ${cls}">${icon(esc(v.text))}</div></div></div>`;
});
shot('status-bar', bars.join(''), 720, 245);

const rows = manifest.contributes.commands
  .filter((c) => !(manifest.contributes.menus.commandPalette ?? []).some((m) => m.command === c.command))
  .map((c, i) => `<div class="row${i === 1 ? ' sel' : ''}"><span><span class="cat">${esc(c.category)}:</span> ${esc(c.title)}</span></div>`)
  .join('');
shot('palette', `<div class="palette"><input value="&gt;Env Layers"/>${rows}</div>`, 720, 400);
console.log(`screenshots in ${path.join(root, 'images')}`);
