/**
 * The deployment files cannot run here (no Docker, no cluster): check what can be checked, that
 * they parse, run commands and flags the CLI really has, and set the variables shardFromEnv reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { Command } from 'commander';
import { fullProgram } from '../../src/cli/main.js';
import { shardFromEnv } from '../../src/distrib/shard.js';
import { parseRedisUrl } from '../../src/distrib/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(ROOT + p, 'utf8');

const program = await fullProgram({ exitCode: 0 });
function command(name: string): Command {
  const c = program.commands.find((x) => x.name() === name);
  assert.ok(c, `imgsift has a '${name}' command`);
  return c;
}

/** `imgsift ARGS` as the CLI would take them: a known command, every --flag one of its options. */
async function assertRunnable(args: string[], where: string): Promise<Command> {
  const cmd = command(args[0]);
  const longs = new Set(cmd.options.map((o) => o.long));
  for (const a of args.slice(1)) {
    if (a.startsWith('--')) assert.ok(longs.has(a.split('=')[0]), `${where}: imgsift ${args[0]} has no option ${a}`);
  }
  // Commander itself accepts the line (required options, values), without running the action.
  const copy = await fullProgram({ exitCode: 0 });
  const c = copy.commands.find((x) => x.name() === args[0])!;
  c.action(() => undefined);
  copy.exitOverride();
  c.exitOverride();
  copy.parse(args, { from: 'user' });
  return cmd;
}

const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

test('Kubernetes: an Indexed Job of `build --shard auto` whose IMGSIFT_SHARDS is its completions, then a merge Job', async () => {
  const job = parse(read('deploy/k8s/shards-job.yaml'));
  assert.equal(job.kind, 'Job');
  assert.equal(job.spec.completionMode, 'Indexed');
  const c = job.spec.template.spec.containers[0];
  await assertRunnable(c.args, 'shards-job.yaml');
  assert.equal(valueAfter(c.args, '--shard'), 'auto');
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  assert.equal(Number(env.IMGSIFT_SHARDS), job.spec.completions);
  // What each pod gets from Kubernetes: JOB_COMPLETION_INDEX 0..completions-1.
  for (let i = 0; i < job.spec.completions; i++) {
    assert.deepEqual(shardFromEnv({ ...env, JOB_COMPLETION_INDEX: String(i) }), { index: i, count: job.spec.completions });
  }
  const merge = parse(read('deploy/k8s/merge-job.yaml'));
  const m = merge.spec.template.spec.containers[0];
  await assertRunnable(m.args, 'merge-job.yaml');
  assert.ok(m.args.includes('--merge'));
  // Both Jobs see the same recipe, workdir and volume.
  assert.equal(m.args[1], c.args[1]);
  assert.equal(valueAfter(m.args, '--workdir'), valueAfter(c.args, '--workdir'));
  assert.equal(merge.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName);
  const pvc = parseAllDocuments(read('deploy/k8s/pvc.yaml'))[0].toJS();
  assert.equal(pvc.metadata.name, job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName);
  assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany']);
});

test('Slurm: the array script runs `build --shard auto`, and every task of its --array gets its own shard', async () => {
  const text = read('deploy/slurm/imgsift-array.sbatch');
  const array = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(text);
  assert.ok(array, 'a contiguous --array=A-B');
  const [min, max] = [Number(array[1]), Number(array[2])];
  const run = /^srun imgsift (.+)$/m.exec(text)![1].split(/\s+/).map((a) => a.replace(/^"|"$/g, ''));
  await assertRunnable(run.map((a) => (a.startsWith('$') || a.startsWith('"$') ? 'X' : a)).map((a, i, all) => (all[i - 1] === '--workers' ? '4' : a)), 'imgsift-array.sbatch');
  assert.equal(valueAfter(run, '--shard'), 'auto');
  const seen = new Set<number>();
  for (let id = min; id <= max; id++) {
    const spec = shardFromEnv({
      SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max), SLURM_ARRAY_TASK_COUNT: String(max - min + 1),
    })!;
    assert.equal(spec.count, max - min + 1);
    seen.add(spec.index);
  }
  assert.equal(seen.size, max - min + 1, 'every task a different shard');
  // The merge line of the usage comment is a real command too.
  const wrap = /--wrap "imgsift (.+)"/.exec(text)![1].split(/\s+/);
  await assertRunnable(wrap, 'imgsift-array.sbatch (merge)');
});

test('docker compose: redis, two workers and a queue build, on the same Redis URL', async () => {
  const doc = parse(read('deploy/compose/docker-compose.yml'));
  const env = (s: string) => s.replace(/\$\{REDIS_PASSWORD:-([^}]*)\}/g, '$1');
  const worker = doc.services.worker.command.map(env);
  const build = doc.services.build.command.map(env);
  await assertRunnable(worker, 'compose worker');
  await assertRunnable(build, 'compose build');
  assert.equal(doc.services.worker.deploy.replicas, 2);
  assert.equal(valueAfter(worker, '--redis'), valueAfter(build, '--queue'));
  const url = parseRedisUrl(valueAfter(worker, '--redis'), '--redis');
  assert.equal(new URL(url).hostname, 'redis');
  assert.ok(doc.services.redis.command.includes('--requirepass'));
  assert.equal(new URL(url).password, env(doc.services.redis.command[doc.services.redis.command.indexOf('--requirepass') + 1]));
});

test('Dockerfile: a build stage with dev dependencies (prepare runs tsc), a slim Node 20 runtime with dist/', () => {
  const text = read('Dockerfile');
  const froms = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];
  assert.equal(froms.length, 2);
  assert.match(froms[0][1], /^node:20/);
  assert.match(froms[1][1], /^node:20[\w.-]*-slim$/);
  const [stage1, stage2] = text.split(/^FROM .*$/m).slice(1);
  assert.match(stage1, /^RUN npm ci$/m);
  assert.equal(JSON.parse(read('package.json')).scripts.prepare, 'tsc -p tsconfig.json');
  assert.match(stage2, /npm ci --omit=dev/);
  assert.match(stage2, new RegExp(`COPY --from=${froms[0][2]} /app/dist ./dist`));
  assert.match(stage2, /ENTRYPOINT \["node", "\/app\/bin\/imgsift\.js"\]/);
  const ignored = read('.dockerignore').split('\n');
  for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(p), `.dockerignore has ${p}`);
});
