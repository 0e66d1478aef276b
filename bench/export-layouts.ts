/**
 * Layout exports on a seed-001-shaped catalog (SKU crops as PNG, meta fields per sample).
 *
 *   node --import tsx bench/export-layouts.ts [samples=5000] [distinct=100]
 *
 * `samples` items share `distinct` PNG crops through symlinks (disk reads stay in the page cache).
 * Times, into fresh folders: files export copying ({ext}), files export converting PNG → JPEG,
 * a rerun of the copy (nothing changed), manifest with fields per split, grouped_json per split.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, COLUMNS } from '../src/catalog/catalog.js';
import { useRun } from '../src/catalog/run-view.js';
import { photoPng } from '../src/demo/synth.js';
import { Reporter } from '../src/exec/reporter.js';
import { FilesOptions, filesExporter } from '../src/export/files.js';
import { GroupedJsonOptions, groupedJsonExporter } from '../src/export/grouped-json.js';
import { ManifestOptions, manifestExporter } from '../src/export/manifest.js';
import type { ExportContext } from '../src/export/types.js';
import { sha256Hex } from '../src/util/hash.js';

const SAMPLES = Number(process.argv[2] ?? 5000);
const DISTINCT = Number(process.argv[3] ?? 100);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'imgsift-bench-layouts-'));
  try {
    await mkdir(join(root, 'distinct'));
    await mkdir(join(root, 'crops'));
    const distinct: Array<{ path: string; sha: string; bytes: number }> = [];
    for (let i = 0; i < DISTINCT; i++) {
      const bytes = await photoPng({ seed: i + 1, width: 160, height: 200 });
      const path = join(root, 'distinct', `c${i}.png`);
      await writeFile(path, bytes);
      distinct.push({ path, sha: sha256Hex(bytes), bytes: bytes.length });
    }
    const samples = [];
    const files = [];
    const status = [];
    for (let i = 0; i < SAMPLES; i++) {
      const d = distinct[i % DISTINCT];
      const link = join(root, 'crops', `${i}.png`);
      await symlink(d.path, link);
      const sku = `${String(Math.floor(i / 4)).padStart(6, '0')}_01_01`;
      const id = `s${String(i).padStart(7, '0')}`;
      samples.push({
        id, source: 'bench', path: `train/image/${String(i).padStart(6, '0')}.jpg`, split: i % 10 === 0 ? 'validation' : 'train',
        label: 'top', text: `a photo ${i}`, ord: i, first_run: 1, seen_run: 1,
        meta: { sku_id: sku, pair_id: Math.floor(i / 4), style: 1, category_id: 1, category_name: 'short sleeve top',
          domain: i % 2 ? 'query' : 'catalog', image_id: String(i).padStart(6, '0'), item_idx: 1 + (i % 2), bbox: [1, 2, 3, 4], occlusion: 1, viewpoint: 2 },
      });
      files.push({ sample_id: id, role: 'crop', uri: link });
      status.push({ uri: link, sha256: d.sha, run_id: 1 });
    }
    const catalog = await Catalog.open(join(root, 'work'));
    await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 'bench', now(), 'running')`);
    await catalog.append('samples', COLUMNS.samples, samples);
    await catalog.append('files', COLUMNS.files, files);
    await catalog.append('file_status', COLUMNS.file_status, status);
    for (const d of distinct) await catalog.run(`INSERT INTO assets (sha256, bytes, format) VALUES (?, ?, 'png')`, [d.sha, d.bytes]);
    await useRun(catalog, 1);
    const ctx: ExportContext = { catalog, runId: 1, workdir: join(root, 'work'), baseDir: root, reporter: new Reporter({ mode: 'quiet' }), dev: false };
    const meanKb = distinct.reduce((s, d) => s + d.bytes, 0) / DISTINCT / 1024;
    console.log(`${SAMPLES} samples, ${DISTINCT} distinct PNG crops (mean ${meanKb.toFixed(1)} KB)`);

    const time = async (name: string, fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      const s = (performance.now() - t) / 1000;
      console.log(`${name.padEnd(36)} ${s.toFixed(2).padStart(7)} s  ${(SAMPLES / s).toFixed(0).padStart(7)} samples/s`);
    };
    const out = join(root, 'out');
    const copy = FilesOptions.parse({ to: out, role: 'crop', path: '{split}/{domain}/{sku_id}/{image_id}_item{item_idx}.{ext}' });
    await time('files, copy ({ext})', () => filesExporter.run(ctx, copy));
    await time('files, rerun (unchanged)', () => filesExporter.run(ctx, copy));
    await time('files, PNG → JPEG q90', () =>
      filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', name: 'jpg', path: 'jpg/{split}/{sku_id}/{image_id}_item{item_idx}.jpg' })));
    await time('manifest, 14 fields per split', () =>
      manifestExporter.run(ctx, ManifestOptions.parse({
        to: out, name: '{split}_image_text.jsonl',
        fields: ['split', 'sku_id', 'pair_id', 'style', 'category_id', 'category_name', 'domain', { image_path: 'role:crop', orig_image_path: 'path' }, 'image_id', 'item_idx', 'bbox', 'occlusion', 'viewpoint', 'text'],
      })));
    await time('grouped_json per split', () =>
      groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({
        to: out, name: '{split}_sku_metadata.json', group_by: 'sku_id', group_fields: ['pair_id', 'style', 'category_id', 'category_name'],
        list_by: 'domain', lists: ['catalog', 'query'], member_fields: [{ crop_path: 'role:crop', orig_image_path: 'path' }, 'image_id', 'item_idx', 'bbox'],
        count_key: 'num_skus', groups_key: 'skus',
      })));
    catalog.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
