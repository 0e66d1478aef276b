/**
 * A static file server for the sample's CDN folder (no python http.server or npx http-server offline):
 *
 *   node --import tsx examples/pico-banana/serve.ts OUT_DIR/cdn [PORT]   (default port 8000, 127.0.0.1)
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.jsonl': 'application/jsonl' };

/** Serve `root` on 127.0.0.1:`port` (0 = any free port); resolves once listening. */
export async function serve(root: string, port = 8000): Promise<{ server: Server; url: string; requests: string[] }> {
  const base = resolve(root);
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = join(base, normalize(path));
    const st = file.startsWith(base) ? await stat(file).catch(() => null) : null;
    if (!st?.isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': st.size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  const addr = server.address();
  return { server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`, requests };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [root, port] = process.argv.slice(2);
  if (!root) {
    console.error('usage: node --import tsx examples/pico-banana/serve.ts CDN_DIR [PORT]');
    process.exit(2);
  }
  const { url } = await serve(root, port ? Number(port) : 8000);
  console.log(`serving ${root} at ${url} (Ctrl-C to stop)`);
}
