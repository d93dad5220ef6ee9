// Installs the envlayers server and its libraries into bundled/libs (pip --target) and copies
// the launcher to bundled/tool/server.py. No shell: execFile with argument lists.
// Usage: node scripts/bundle-server.mjs [--python PATH]; ENVLAYERS_BUNDLE_PYTHON also works.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const extension = path.resolve(here, '..');
const repo = path.resolve(extension, '..');
const flag = process.argv.indexOf('--python');
const repoPython = path.join(repo, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const python =
  (flag >= 0 ? process.argv[flag + 1] : undefined) ??
  process.env.ENVLAYERS_BUNDLE_PYTHON ??
  (existsSync(repoPython) ? repoPython : 'python3');

const bundled = path.join(extension, 'bundled');
const libs = path.join(bundled, 'libs');
rmSync(bundled, { recursive: true, force: true });
mkdirSync(path.join(bundled, 'tool'), { recursive: true });

// Offline when the machine has the wheels; pip's config is respected so indexes still work.
const args = [
  '-m', 'pip', 'install',
  '--disable-pip-version-check', '--no-input', '--quiet',
  '--target', libs,
  '--no-compile',
  '--upgrade',
  repo,
];
const env = { ...process.env };
delete env.PYTHONPATH;
delete env.PYTHONHOME;
console.log(`bundle-server: ${python} ${args.join(' ')}`);
execFileSync(python, args, { stdio: 'inherit', env });

// pip's own copy and console-script shims are of no use inside the extension.
for (const extra of ['bin']) rmSync(path.join(libs, extra), { recursive: true, force: true });
copyFileSync(path.join(extension, 'python', 'server.py'), path.join(bundled, 'tool', 'server.py'));
if (!existsSync(path.join(libs, 'envlayers', '__init__.py')) || !existsSync(path.join(libs, 'pygls'))) {
  throw new Error('bundle-server: envlayers or pygls is missing from bundled/libs');
}
console.log(`bundle-server: server and libraries in ${path.relative(extension, bundled)}`);
