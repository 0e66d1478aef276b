import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateImagenetDump } from '../../examples/imagenet-cleaning/generate.js';
import { startReviewServer } from '../../src/review/server.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 16 point 4: with `imgsift review` open, build, report, export, import-issues and tag on the
// same workdir used to fail on DuckDB's lock. Now the server holds the catalog only per request.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function cliArgs(args: string[]): string[] {
  const code = `import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(${JSON.stringify(args)})).then((c) => { process.exitCode = c; })`;
  return ['--import', 'tsx', '--eval', code];
}

function imgsift(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, cliArgs(args), { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function imgsiftAsync(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, cliArgs(args), { cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('close', (code) => done({ code, out }));
  });
}

test('builds, reports, exports, imports and tags succeed while the review app runs; its decisions reach the next build', async () => {
  const dir = await tempDir();
  const truth = await generateImagenetDump(join(dir, 'data'), { perClass: 4, valPerClass: 2, leaks: 2, duplicates: 1, mislabels: 1 });
  const workdir = join(dir, 'work');
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, [
    'name: beside', `workdir: ${workdir}`, `source: { format: imagefolder, path: ${join(dir, 'data')} }`,
    'steps:', '  - probe: {}', '  - hash: {}', '  - filter: { drop: ["decision:remove"] }',
    'export:', `  - { format: removal_list, to: ${join(dir, 'out/removal_list.txt')} }`, '',
  ].join('\n'));
  let r = imgsift(['build', recipe]);
  assert.equal(r.code, 0, r.out);

  const server = await startReviewServer({ workdir, port: 0 });
  try {
    const api = async (path: string, body?: unknown) => {
      const res = await fetch(new URL(path, server.url), body === undefined ? {} : {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: new URL(server.url).origin }, body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const victim = truth.mislabels[0].path;
    const d = await api('/api/decisions', { id: victim, action: 'remove', reviewer: 'Saeed' });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal((await api('/api/status')).json.building, null);

    // A build while the server runs: it succeeds, the app says a build runs meanwhile.
    const running = imgsiftAsync(['build', recipe]);
    let sawBuilding = false;
    let sawBusy = false;
    let finished: { code: number | null; out: string } | undefined;
    void running.then((x) => (finished = x));
    while (!finished) {
      const st = await api('/api/status');
      if (st.json.building) {
        sawBuilding = true;
        const page = await api('/api/samples?limit=5');
        if (page.status === 503) {
          sawBusy = true;
          assert.equal(page.json.building, true);
          assert.match(String(page.json.error), /a build is running/);
        }
      }
      await new Promise((w) => setTimeout(w, 150));
    }
    assert.equal(finished.code, 0, finished.out);
    assert.ok(sawBuilding, 'the app saw the build running');
    assert.ok(sawBusy, 'catalog requests during the build answer 503 building');

    // After it: the app follows the new run, which applied the decision made in the app.
    const st = await api('/api/status');
    assert.equal(st.json.building, null);
    assert.equal(st.json.runId, 2);
    const page = await api('/api/samples?limit=200&scope=run');
    assert.equal(page.status, 200);
    const removed = (await import('node:fs/promises')).readFile(join(dir, 'out/removal_list.txt'), 'utf8');
    assert.equal((await removed).trim(), victim);

    // The other commands, with the server still running (spawned asynchronously: the server must
    // keep answering, in this same process, while they run).
    r = await imgsiftAsync(['report', '--workdir', workdir, '--out', join(dir, 'report.html')]);
    assert.equal(r.code, 0, r.out);
    r = await imgsiftAsync(['import-issues', truth.vendorExport, '--workdir', workdir, '--map', 'path=img,issue_type=problem,confidence=certainty,suggested_label=proposed_class,reason=why']);
    assert.equal(r.code, 0, r.out);
    r = await imgsiftAsync(['tag', '--workdir', workdir, '--where', 'issue=mislabel&scope=run', '--add', 'mislabel_confirmed', '--action', 'accept-suggestion', '--reviewer', 'Kushagra']);
    assert.equal(r.code, 0, r.out);
    // The server reads what the commands wrote.
    const detail = await api(`/api/samples/${encodeURIComponent(truth.mislabels[0].path)}`);
    assert.equal(detail.status, 200);
    assert.match(JSON.stringify(detail.json), /mislabel_confirmed/);
  } finally {
    await server.close();
  }
});
