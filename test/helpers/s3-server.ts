import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * A real S3-compatible server for tests: moto's `moto_server` (Python, `pip install "moto[server]"`),
 * bound to 127.0.0.1 on a free port, stopped when the test file finishes. Tests that need it fail
 * (never skip) when it is missing.
 */
export interface S3Server {
  endpoint: string;
  /** A plain SDK client on the server, for checking what the code under test did. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Credentials the tests hand to the code under test; the server accepts any unless `auth` is on. */
export const TEST_KEY_ID = 'AKIAIMGSIFTTESTKEY01';
export const TEST_SECRET = 'imgsift/test/Secret+Value/DoNotPrint0123456';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** moto_server on PATH, else pyenv's shim, else `python3 -m moto.server`; a clear error if none runs. */
function findMotoServer(): string[] {
  const candidates = [['moto_server'], [join(homedir(), '.pyenv', 'shims', 'moto_server')], ['python3', '-m', 'moto.server']];
  const problems: string[] = [];
  for (const c of candidates) {
    const probe = spawnSync(c[0], [...c.slice(1), '--help'], { encoding: 'utf8', timeout: 30_000 });
    if (!probe.error && probe.status === 0) return c;
    problems.push(`${c.join(' ')}: ${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}`);
  }
  throw new Error(
    `the S3 tests need moto's S3-compatible server, and none could be run:\n  ${problems.join('\n  ')}\n` +
      `install it with: pip install "moto[server]"`,
  );
}

/**
 * Start moto_server. `auth: true` makes it check credentials (moto's INITIAL_NO_AUTH_ACTION_COUNT=0),
 * so unknown keys are refused as they would be by a real store.
 */
export async function startS3Server(options: { auth?: boolean } = {}): Promise<S3Server> {
  const command = findMotoServer();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { ...process.env, ...(options.auth ? { INITIAL_NO_AUTH_ACTION_COUNT: '0' } : {}) };
  const child: ChildProcess = spawn(command[0], [...command.slice(1), '-H', '127.0.0.1', '-p', String(port)], {
    env, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  after(stop);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`moto_server exited before answering on ${endpoint}:\n${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this process only; keeps test output readable
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: TEST_KEY_ID, secretAccessKey: TEST_SECRET },
  });
  after(() => client.destroy());
  return {
    endpoint,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}

/**
 * Point the AWS SDK of this process at `endpoint` with fake credentials, isolated from the
 * user's own ~/.aws files and from instance metadata.
 */
export function useTestAws(endpoint: string, configDir: string): void {
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ACCESS_KEY_ID = TEST_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_SECRET;
  process.env.AWS_CONFIG_FILE = `${configDir}/aws-config`;
  process.env.AWS_SHARED_CREDENTIALS_FILE = `${configDir}/aws-credentials`;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_ENDPOINT_URL_S3;
}
