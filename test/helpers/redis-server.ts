import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { after } from 'node:test';

/** A free TCP port on 127.0.0.1 (the OS picks it; it is free again once we close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RedisServer {
  port: number;
  /** redis://[:password@]127.0.0.1:port/0 */
  url: string;
  process: ChildProcess;
}

/** A real redis-server (Debian package) on 127.0.0.1 and a random free port, nothing persisted. The caller kills it. */
export async function spawnRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  try {
    await waitForPort(port, 10_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return { port, url: `redis://${auth}127.0.0.1:${port}/0`, process: proc };
}

/** spawnRedis, killed when the test file ends. */
export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const server = await spawnRedis(options);
  after(() => {
    server.process.kill('SIGKILL');
  });
  return server;
}
