import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { generateImagenetDump, VENDOR_MAP } from '../../examples/imagenet-cleaning/generate.js';
import { BUILD_MARKER } from '../../src/catalog/build-marker.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { importIssues, parseFieldMap } from '../../src/review/imports.js';
import { startReviewServer } from '../../src/review/server.js';
import { launchBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 16 point 4 in the browser: accept a suggestion in the app, run a build beside it, see the
// banner while it runs and the new run after; the build uses the decision.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function build(recipe: string, onStart?: (pid: number) => void): Promise<{ code: number | null; out: string }> {
  const code = `import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(['build', ${JSON.stringify(recipe)}])).then((c) => { process.exitCode = c; })`;
  return new Promise((done) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--eval', code], { cwd: ROOT });
    if (onStart && p.pid) onStart(p.pid);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('close', (c) => done({ code: c, out }));
  });
}

test('the app accepts a suggestion, shows a running build and reloads its run; the build applies the decision', async () => {
  const dir = await tempDir();
  const truth = await generateImagenetDump(join(dir, 'data'), { perClass: 4, valPerClass: 2, leaks: 1, duplicates: 1, mislabels: 1 });
  const workdir = join(dir, 'work');
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, [
    'name: ui-beside', `workdir: ${workdir}`, `source: { format: imagefolder, path: ${join(dir, 'data')} }`,
    'steps:', '  - probe: {}', '  - hash: {}',
    'export:', `  - { format: relabel_map, to: ${join(dir, 'out')}, dataset: imagenet1k, key: stem, split: train }`, '',
  ].join('\n'));
  const first = await build(recipe);
  assert.equal(first.code, 0, first.out);
  const cat = await Catalog.open(workdir);
  try {
    await importIssues({ catalog: cat, file: truth.vendorExport, map: parseFieldMap(VENDOR_MAP) });
  } finally {
    cat.close();
  }

  const srv = await startReviewServer({ workdir, port: 0 });
  const browser = await launchBrowser({ width: 1200, height: 800 });
  try {
    const page = await browser.context.newPage();
    await page.goto(srv.url);
    await page.waitForSelector('.tile img');
    const mis = truth.mislabels[0];
    await page.fill('#search', mis.path);
    await page.waitForFunction(`document.getElementById('count').textContent === '1 samples'`);
    await page.click('#grid', { position: { x: 5, y: 5 } });
    await page.keyboard.press('s');
    await page.waitForFunction(`document.getElementById('toast').textContent.includes('accept suggestion: 1 changed')`);
    assert.ok(await page.isHidden('#build-banner'));

    // A cached rebuild can end between two of the app's status polls, so the test pauses the build
    // (SIGSTOP) as soon as its marker is in the workdir, and lets it go once the banner shows.
    let pid = 0;
    const running = build(recipe, (p) => (pid = p));
    const marker = join(workdir, BUILD_MARKER);
    const deadline = Date.now() + 60_000;
    while (!existsSync(marker)) {
      assert.ok(Date.now() < deadline, 'the build never wrote its marker');
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(pid, 'SIGSTOP');
    try {
      await page.waitForSelector('#build-banner:not(.hidden)', { timeout: 30_000 });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const done = await running;
    assert.equal(done.code, 0, done.out);
    await page.waitForSelector('#build-banner.hidden', { state: 'attached', timeout: 20_000 });
    await page.waitForFunction(`document.getElementById('toast').textContent.includes('build finished: showing run 2')`, undefined, { timeout: 20_000 });

    const map = JSON.parse(await readFile(join(dir, 'out/imagenet1k_relabel_map.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(map, { [String(mis.index)]: Number(mis.label) });
  } finally {
    await browser.close();
    await srv.close();
  }
});
