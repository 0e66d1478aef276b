import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseExportOpts, runExport } from '../../src/cli/export.js';
import { Reporter } from '../../src/exec/reporter.js';
import { buildImageCatalog, type TestSample } from '../export/image-catalog.js';

const SAMPLES: TestSample[] = ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({
  id, split: i < 3 ? 'train' : 'test', label: 'cat', text: `caption ${id}`, meta: null, image: i % 3,
}));

function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};
    import { registerExport } from ${JSON.stringify(import.meta.resolve('../../src/cli/export.ts'))};
    const state = { exitCode: 0 };
    const program = new Command('imgsift').exitOverride();
    registerExport(program, state);
    program.commands.forEach((c) => c.exitOverride());
    try { await program.parseAsync(${JSON.stringify(args)}, { from: 'user' }); }
    catch (e) { process.exit(e.exitCode === 0 ? 0 : 2); }
    process.exit(state.exitCode);`;
  const res = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], {
    encoding: 'utf8', cwd,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

test('parseExportOpts: JSON values, plain text, dotted keys nest, precise errors', () => {
  assert.deepEqual(parseExportOpts(['samples_per_shard=512', 'reencode.format=jpeg', 'reencode.quality=80', 'name=my token', 'flag=true', 'splits=["a","b"]']), {
    samples_per_shard: 512, reencode: { format: 'jpeg', quality: 80 }, name: 'my token', flag: true, splits: ['a', 'b'],
  });
  assert.throws(() => parseExportOpts(['novalue']), /expected key=value/);
  assert.throws(() => parseExportOpts(['a=1', 'a.b=2']), /'a' was already given a value/);
  assert.throws(() => parseExportOpts(['__proto__.x=1']), /not a valid option name/);
});

test('imgsift export: re-runs one exporter on the latest run of a catalog', async () => {
  const { ctx, dir } = await buildImageCatalog(SAMPLES);
  ctx.catalog.close();
  // Library entry point: the manifest of run 1.
  const stats = await runExport(
    { workdir: join(dir, 'work'), format: 'manifest', to: join(dir, 'm.jsonl'), opt: [] },
    new Reporter({ mode: 'quiet' }),
  );
  assert.equal(stats[`manifest ${join(dir, 'm.jsonl')}`], 5);
  assert.equal((await readFile(join(dir, 'm.jsonl'), 'utf8')).trim().split('\n').length, 5);

  const res = cli(['export', '--workdir', 'work', '--format', 'webdataset', '--to', 'wds', '--opt', 'samples_per_shard=2', '--quiet'], dir);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /^export webdataset:\n/);
  assert.match(res.stdout, /\n  samples train +3\n/);
  assert.deepEqual((await readdir(join(dir, 'wds', 'train'))).sort(), ['shard-000000.tar', 'shard-000001.tar'], 'relative --to resolves against the current folder');

  const badFormat = cli(['export', '--workdir', 'work', '--format', 'nope', '--to', 'x'], dir);
  assert.equal(badFormat.status, 2);
  assert.match(badFormat.stderr, /unknown export format "nope"; known formats: .*webdataset/);
  const badOpt = cli(['export', '--workdir', 'work', '--format', 'webdataset', '--to', 'x', '--opt', 'samples_per_shard=-1'], dir);
  assert.equal(badOpt.status, 2);
  assert.match(badOpt.stderr, /export webdataset: samples_per_shard: /);
  const noCatalog = cli(['export', '--workdir', 'elsewhere', '--format', 'webdataset', '--to', 'x'], dir);
  assert.equal(noCatalog.status, 2);
  assert.match(noCatalog.stderr, /no catalog in elsewhere/);
});
