import { join } from 'node:path';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { generateDemoDataset, type DemoTruth } from '../../src/demo/dataset.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { startReviewServer, type ReviewServer } from '../../src/review/server.js';

export interface ReviewFixture {
  dir: string;
  workdir: string;
  truth: DemoTruth;
  /** Sample id of a dataset-relative path of the truth file. */
  idOf: Map<string, string>;
  /** [copy id, kept id] of the duplicate issues added, and [test id, train id] of the leak issues. */
  duplicates: Array<[string, string]>;
  leaks: Array<[string, string]>;
  /** Remove the fixture's files (after closing any server on it). */
  cleanup(): Promise<void>;
}

/**
 * A real build of the 80-image demo dataset (probe, hash, split, filter). The dedup and leaks steps
 * are not part of it, so their issues are written from the dataset's truth, in the shape those
 * steps record (evidence naming the other sample, the method and the similarity).
 */
export async function reviewFixture(): Promise<ReviewFixture> {
  // Not tempDir(): its after() hook, registered from a before() hook, runs before the tests do.
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-review-'));
  const data = join(dir, 'data');
  const truth = await generateDemoDataset(data, { count: 80 });
  const workdir = join(dir, 'work');
  const recipe = recipeFromObject(
    {
      name: 'review-test',
      workdir,
      source: { format: 'imagefolder', path: data, fields: { text: 'text', label: 'label' } },
      steps: [
        { probe: {} },
        { hash: {} },
        { split: { ratios: { train: 0.85, test: 0.15 }, keep_source_splits: true } },
        { filter: { drop: ['corrupt', 'unreadable', 'decompression_bomb'] } },
      ],
    },
    dir,
  );
  await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 2 });
  const cat = await Catalog.open(workdir);
  try {
    const rows = await cat.all<{ id: string; path: string }>(`SELECT id, path FROM samples`);
    const idOf = new Map(rows.map((r) => [r.path, r.id]));
    const duplicates: Array<[string, string]> = [];
    for (const g of [...truth.exactDuplicates, ...truth.nearDuplicates]) {
      for (const c of g.copies) if (idOf.has(c.file) && idOf.has(g.original)) duplicates.push([idOf.get(c.file)!, idOf.get(g.original)!]);
    }
    const leaks: Array<[string, string]> = truth.leaks
      .filter((l) => idOf.has(l.test) && idOf.has(l.train))
      .map((l) => [idOf.get(l.test)!, idOf.get(l.train)!]);
    await cat.append('issues', COLUMNS.issues, [
      ...duplicates.map(([copy, kept], i) => ({
        sample_id: copy, type: 'duplicate', score: 1, flagged: true, step: 'dedup', source: 'imgsift', run_id: 1,
        evidence: { kept, method: i % 2 ? 'perceptual' : 'exact', distance: i % 2 ? 3 : 0, similarity: i % 2 ? 0.953 : 1 },
      })),
      ...leaks.map(([test, train]) => ({
        sample_id: test, type: 'leak', score: 0.97, flagged: true, step: 'leaks', source: 'imgsift', run_id: 1,
        evidence: { train_sample: train, method: 'perceptual', distance: 2, similarity: 0.969 },
      })),
    ]);
    return { dir, workdir, truth, idOf, duplicates, leaks, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } finally {
    cat.close();
  }
}

/** A review fixture and a server on it, for a whole test file. */
export interface ServedFixture {
  fx: ReviewFixture;
  srv: ReviewServer;
  /** The server's URL without its trailing slash. */
  base: string;
  /** Start a new server on the fixture (after closing `srv`: to see a newer run, say). */
  start(): Promise<void>;
}

/** Serve a fresh fixture to the test file that calls this: made in a `before` hook, closed `after`. */
export function serveReviewFixture(): ServedFixture {
  const served = {
    async start() {
      served.srv = await startReviewServer({ workdir: served.fx.workdir, port: 0, reviewer: 'tester' });
      served.base = served.srv.url.replace(/\/$/, '');
    },
  } as ServedFixture;
  before(async () => {
    served.fx = await reviewFixture();
    await served.start();
  });
  after(async () => {
    await served.srv?.close();
    await served.fx?.cleanup();
  });
  return served;
}
