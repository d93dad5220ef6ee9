// A find-links page on 127.0.0.1 that answers slowly: it keeps a sync running long enough for a
// test to type a second request into the editor while the first one still runs.
import { createReadStream, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';

/** Serves `wheels` as a find-links page whose listing takes `delayMs`; `url` is the page. */
export function slowFindLinks(wheels, delayMs) {
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    if (name === '') {
      const links = readdirSync(wheels)
        .filter((f) => f.endsWith('.whl'))
        .map((f) => `<a href="${encodeURIComponent(f)}">${f}</a><br>`)
        .join('\n');
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
        res.end(`<!DOCTYPE html><html><body>\n${links}\n</body></html>\n`);
      }, delayMs);
      return;
    }
    if (name.includes('/') || !name.endsWith('.whl')) {
      res.writeHead(404).end();
      return;
    }
    const stream = createReadStream(path.join(wheels, name));
    stream.on('error', () => res.writeHead(404).end());
    stream.on('open', () => res.writeHead(200, { 'content-type': 'application/octet-stream' }));
    stream.pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}
