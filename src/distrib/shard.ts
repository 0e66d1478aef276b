import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { hashUnit } from '../steps/split.js';

/**
 * Which part of a build a worker does: shard `index` of `count`. Every sample belongs to exactly
 * one shard by a pure function of its id, so array-job workers need no coordination.
 */
export interface ShardSpec {
  /** 0 <= index < count. */
  index: number;
  count: number;
}

/** Most shards a build may be cut into (a shard per few samples at LAION scale is still far below). */
export const MAX_SHARDS = 1_000_000;

/**
 * The shard of a sample id: the same md5 position in [0, 1) the split step uses, scaled to
 * `count` (exact: an 8-hex-digit integer times count stays below 2^53).
 */
export function shardOf(id: string, count: number): number {
  return Math.floor(hashUnit(id) * count);
}

/**
 * shardOf in DuckDB SQL over a VARCHAR expression, bit for bit the same: the first 8 hex digits
 * of md5 as an integer, times count, divided by 2^32.
 */
export function shardOfSql(idExpr: string, count: number): string {
  return `((('0x' || substr(md5(${idExpr}), 1, 8))::UBIGINT * ${Math.trunc(count)}) // 4294967296)`;
}

/** "I/N" (0-based index) as a ShardSpec; a UsageError naming the flag on anything else. */
export function parseShard(text: string, flag = '--shard'): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected I/N, the shard index (from 0) and the number of shards, e.g. 0/4`);
  return checkShard(Number(m[1]), Number(m[2]), flag);
}

function checkShard(index: number, count: number, where: string): ShardSpec {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new UsageError(`${where}: the number of shards must be an integer from 1 to ${MAX_SHARDS}; got ${count}`);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new UsageError(`${where}: the shard index must be from 0 to ${count - 1} (0-based) for ${count} shards; got ${index}`);
  }
  return { index, count };
}

/** A non-negative integer from an environment variable, or a UsageError naming it. */
function envInt(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name];
  if (raw === undefined || !/^\s*\d+\s*$/.test(raw)) {
    throw new UsageError(`environment variable ${name}=${JSON.stringify(raw ?? '')}: expected a non-negative integer`);
  }
  return Number(raw);
}

const set = (env: NodeJS.ProcessEnv, name: string) => env[name] !== undefined && env[name] !== '';

/**
 * The shard a scheduler's array job assigns this process, or undefined when none of their
 * variables is set:
 *   - Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with IMGSIFT_SHARDS (the Job's completions);
 *   - Slurm job array: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, offset by
 *     SLURM_ARRAY_TASK_MIN (`--array=1-8` numbers tasks from 1);
 *   - AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE.
 * A half-set or malformed variable is a UsageError naming it, never a silent guess.
 */
export function shardFromEnv(env: NodeJS.ProcessEnv): ShardSpec | undefined {
  if (set(env, 'JOB_COMPLETION_INDEX')) {
    if (!set(env, 'IMGSIFT_SHARDS')) {
      throw new UsageError('JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but IMGSIFT_SHARDS is not: set it to the Job\'s completions');
    }
    return checkShard(envInt(env, 'JOB_COMPLETION_INDEX'), envInt(env, 'IMGSIFT_SHARDS'), 'JOB_COMPLETION_INDEX/IMGSIFT_SHARDS');
  }
  if (set(env, 'SLURM_ARRAY_TASK_ID')) {
    if (!set(env, 'SLURM_ARRAY_TASK_COUNT')) throw new UsageError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not');
    const min = set(env, 'SLURM_ARRAY_TASK_MIN') ? envInt(env, 'SLURM_ARRAY_TASK_MIN') : 0;
    const id = envInt(env, 'SLURM_ARRAY_TASK_ID');
    const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    const max = set(env, 'SLURM_ARRAY_TASK_MAX') ? envInt(env, 'SLURM_ARRAY_TASK_MAX') : undefined;
    // A stepped or sparse array (--array=0-15:4, 1,3,7) does not number its tasks 0..count-1.
    if (max !== undefined && max - min + 1 !== count) {
      throw new UsageError(
        `SLURM_ARRAY_TASK_MIN..MAX (${min}..${max}) is not ${count} consecutive tasks: use a contiguous --array=${min}-${min + count - 1}`,
      );
    }
    return checkShard(id - min, count, `SLURM_ARRAY_TASK_ID=${id} (SLURM_ARRAY_TASK_MIN=${min}, SLURM_ARRAY_TASK_COUNT=${count})`);
  }
  if (set(env, 'AWS_BATCH_JOB_ARRAY_INDEX')) {
    if (!set(env, 'AWS_BATCH_JOB_ARRAY_SIZE')) throw new UsageError('AWS_BATCH_JOB_ARRAY_INDEX is set but AWS_BATCH_JOB_ARRAY_SIZE is not');
    return checkShard(envInt(env, 'AWS_BATCH_JOB_ARRAY_INDEX'), envInt(env, 'AWS_BATCH_JOB_ARRAY_SIZE'), 'AWS_BATCH_JOB_ARRAY_INDEX/AWS_BATCH_JOB_ARRAY_SIZE');
  }
  return undefined;
}

/** `--shard I/N`, or `--shard auto` (the scheduler's variables; an error when none is set). */
export function resolveShardFlag(text: string, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  if (text.trim() === 'auto') {
    const spec = shardFromEnv(env);
    if (!spec) {
      throw new UsageError(
        '--shard auto: no array-job variable is set (JOB_COMPLETION_INDEX + IMGSIFT_SHARDS, SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT, ' +
          'or AWS_BATCH_JOB_ARRAY_INDEX + AWS_BATCH_JOB_ARRAY_SIZE); give --shard I/N instead',
      );
    }
    return spec;
  }
  return parseShard(text);
}

/** Where shard `index` of a build keeps its catalog, files and completion marker. */
export function shardDir(workdir: string, index: number): string {
  return join(workdir, 'shards', String(index));
}

/** The completion marker's file name inside a shard folder (written last, after everything else). */
export const DONE_FILE = 'done.json';

/** What a finished shard records in `done.json`. */
export interface ShardMarker {
  /** The recipe's hash (build.ts recipeHashOf): a merge refuses shards of another recipe. */
  recipeHash: string;
  recipe: string;
  shard: ShardSpec;
  /** The absolute folder the shard ran in (paths in its catalog start with it). */
  dir: string;
  /** Samples of the shard, and how many had per-sample work done (not from the cache). */
  samples: number;
  computed: number;
  steps: Array<{ name: string; stats: Record<string, number | string>; seconds: number }>;
  seconds: number;
  finished: string;
}

/** The statistics buildShard returns: the marker it wrote (or found). */
export interface ShardStats extends ShardMarker {
  /** True when a finished marker of the same recipe was found and nothing was run. */
  skipped: boolean;
  /** The shard build's exit code: 1 when it finished with something worth attention (unreadable files, ...). */
  exitCode: number;
  attention: string[];
}
