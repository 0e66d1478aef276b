import { join, relative } from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import type { DemoResult } from './run.js';

interface Check {
  what: string;
  files: string[];
  /** Issue types any of which counts as found. */
  issues: string[];
  /** The issue is informational (recorded, never flagged): count it when present. */
  informational?: boolean;
}

/**
 * Compare what the demo planted with what the build flagged, and say where the outputs are.
 * A planted problem whose detector is not in the recipe is reported as not checked.
 */
export async function describeDemo(demo: DemoResult): Promise<string> {
  const t = demo.truth;
  const checks: Check[] = [
    { what: 'broken files (corrupt, truncated, empty, not an image)', files: t.broken.map((b) => b.file), issues: ['corrupt'] },
    ...(['wrong_extension', 'cmyk', 'animated'] as const).map((p) => ({
      what: p.replace('_', ' '), files: t.formats.filter((f) => f.problem === p).map((f) => f.file), issues: [p],
    })),
    {
      what: 'EXIF-rotated images (noted)', files: t.formats.filter((f) => f.problem === 'exif_rotated').map((f) => f.file),
      issues: ['exif_rotated'], informational: true,
    },
    {
      what: '16-bit images (noted)', files: t.formats.filter((f) => f.problem === 'sixteen_bit').map((f) => f.file),
      issues: ['high_bit_depth'], informational: true,
    },
    ...(['dark', 'light', 'blurry', 'low_information', 'odd_aspect_ratio', 'odd_size', 'grayscale'] as const).map((q) => ({
      what: `${q.replace(/_/g, ' ')} images`, files: t.quality.filter((x) => x.issue === q).map((x) => x.file),
      // cleanvision's `blurry` rises with border brightness and contrast; seed 003's variance-of-
      // Laplacian rule (`low_sharpness`) is the one that catches a bright, out-of-focus picture.
      issues: q === 'blurry' ? ['blurry', 'low_sharpness'] : [q],
    })),
    { what: 'train/test leaks', files: t.leaks.map((l) => l.test), issues: ['leak'] },
  ];
  const catalog = await Catalog.open(demo.build.workdir, { readOnly: true });
  const lines = ['', 'What the demo planted, and what imgsift found:'];
  try {
    const known = new Set(
      (await catalog.all<{ type: string }>(`SELECT DISTINCT type FROM issues`)).map((r) => r.type),
    );
    for (const c of checks) {
      if (c.files.length === 0) continue;
      if (!c.issues.some((i) => known.has(i))) {
        lines.push(`  ${c.what}: ${c.files.length} planted — not checked by the steps in this recipe yet`);
        continue;
      }
      const list = c.files.map((f) => `'${f.replace(/'/g, "''")}'`).join(',');
      const types = c.issues.map((i) => `'${i}'`).join(',');
      const found = await catalog.scalar(
        `SELECT count(DISTINCT s.path) FROM samples s JOIN issues i ON i.sample_id = s.id
         WHERE (i.flagged OR ${c.informational ? 'true' : 'false'}) AND i.type IN (${types}) AND s.path IN (${list})`,
      );
      lines.push(`  ${c.what}: ${c.files.length} planted, ${found} ${c.informational ? 'noted' : 'flagged'}`);
    }
    // A planted copy is found when it and its original end up in one duplicate cluster (either
    // may be the one kept, by the keeper rule).
    for (const [what, groups] of [['exact duplicate copies', t.exactDuplicates], ['near-duplicate copies', t.nearDuplicates]] as const) {
      const pairs = groups.flatMap((g) => g.copies.map((c) => [g.original, c.file] as const));
      if (pairs.length === 0) continue;
      if (!known.has('duplicate')) {
        lines.push(`  ${what}: ${pairs.length} planted — not checked by the steps in this recipe yet`);
        continue;
      }
      const values = pairs.map(([a, b]) => `('${a.replace(/'/g, "''")}', '${b.replace(/'/g, "''")}')`).join(',');
      const found = await catalog.scalar(
        `WITH p(a, b) AS (VALUES ${values}),
              c AS (SELECT d.cluster, s.path FROM dup_clusters d JOIN samples s ON s.id = d.sample_id
                    WHERE d.run_id = ${demo.build.runId})
         SELECT count(*) FROM p WHERE EXISTS (
           SELECT 1 FROM c ca JOIN c cb ON ca.cluster = cb.cluster WHERE ca.path = p.a AND cb.path = p.b)`,
      );
      lines.push(`  ${what}: ${pairs.length} planted, ${found} clustered with their original`);
    }
  } finally {
    catalog.close();
  }
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  lines.push(
    '',
    'Outputs:',
    `  sample data: ${rel(demo.dataDir)} (${t.count} images; planted problems listed in ${rel(join(demo.dataDir, 'truth.json'))})`,
    `  recipe:      ${rel(demo.recipeFile)}`,
    `  catalog:     ${rel(demo.build.workdir)}`,
    `  exports:     ${rel(join(demo.out, 'out'))}`,
    '',
    `Edit the recipe and run \`imgsift build ${rel(demo.recipeFile)}\`: only what changed is recomputed.`,
  );
  return lines.join('\n');
}
