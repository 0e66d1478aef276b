import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { Reporter } from '../../src/exec/reporter.js';
import type { ExportContext } from '../../src/export/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A catalog shaped like seed 001 (DeepFashion2 → SKU crops): each sample is one clothing item of
 * a shop ("catalog") or user ("query") photo, with its SKU fields in meta, its source photo as
 * role `image` (JPEG), a crop as role `crop` (a PNG in the workdir's content-addressed assets, as
 * derived files are stored) and, for some, a `mask` (PNG).
 */

export interface SkuItem {
  id: string;
  split: string;
  meta: Record<string, unknown>;
}

export interface SkuCatalog {
  ctx: ExportContext;
  dir: string;
  items: SkuItem[];
  /** Sample id → bytes of its crop. */
  crops: Map<string, Buffer>;
}

const CATEGORIES: Record<number, string> = { 1: 'short sleeve top', 7: 'shorts', 9: 'skirt' };

/** Items: 3 SKUs in train (each with catalog and query crops), 1 in validation; `extra` adds more. */
export function skuItems(): SkuItem[] {
  const items: SkuItem[] = [];
  const add = (split: string, pair: number, style: number, cat: number, domain: string, image: number, item: number) => {
    const sku = `${String(pair).padStart(6, '0')}_${String(style).padStart(2, '0')}_${String(cat).padStart(2, '0')}`;
    const image_id = String(image).padStart(6, '0');
    items.push({
      id: `${split}/${image_id}#${item}`,
      split,
      meta: {
        sku_id: sku, pair_id: pair, style, category_id: cat, category_name: CATEGORIES[cat], domain,
        image_id, item_idx: item, bbox: [image % 50, item * 3, 100 + item, 120 + image % 7], occlusion: 1 + (image % 3),
        viewpoint: 1 + (item % 3),
      },
    });
  };
  add('train', 1, 1, 1, 'query', 1, 1);
  add('train', 1, 1, 1, 'catalog', 2, 1);
  add('train', 1, 1, 1, 'catalog', 3, 2);
  add('train', 12, 2, 7, 'catalog', 4, 1);
  add('train', 12, 2, 7, 'query', 5, 1);
  add('train', 3, 1, 9, 'query', 6, 2);
  add('train', 3, 1, 9, 'catalog', 7, 1);
  add('validation', 40, 1, 1, 'catalog', 8, 1);
  add('validation', 40, 1, 1, 'query', 9, 1);
  return items;
}

export async function buildSkuCatalog(items: SkuItem[] = skuItems()): Promise<SkuCatalog> {
  const dir = await tempDir('imgsift-layout-');
  const work = join(dir, 'work');
  const src = join(dir, 'DeepFashion2');
  const catalog = await Catalog.open(work);
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'finished')`);

  const mask = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
    .composite([{ input: Buffer.from('<svg width="16" height="16"><rect x="4" y="4" width="8" height="8" fill="#010101"/></svg>') }])
    .greyscale().png().toBuffer();
  const files: Array<{ sample_id: string; role: string; uri: string }> = [];
  const assets = new Map<string, { uri: string; bytes: Buffer; format: string }>();
  const crops = new Map<string, Buffer>();
  const store = async (uri: string, bytes: Buffer, format: string) => {
    await mkdir(join(uri, '..'), { recursive: true });
    await writeFile(uri, bytes);
    assets.set(uri, { uri, bytes, format });
  };
  for (const [i, it] of items.entries()) {
    const m = it.meta as { image_id: string };
    const photo = join(src, it.split, 'image', `${m.image_id}.jpg`);
    if (!assets.has(photo)) await store(photo, await photoJpeg({ seed: i + 1, width: 72, height: 56 }), 'jpeg');
    const crop = await photoPng({ seed: 100 + i, width: 32, height: 40 });
    const sha = sha256Hex(crop);
    const cropUri = join(work, 'assets', sha.slice(0, 2), `${sha}.png`);
    await store(cropUri, crop, 'png');
    crops.set(it.id, crop);
    files.push({ sample_id: it.id, role: 'image', uri: photo }, { sample_id: it.id, role: 'crop', uri: cropUri });
    if (i % 2 === 0) {
      const maskUri = join(work, 'assets', 'ma', `mask.png`);
      if (!assets.has(maskUri)) await store(maskUri, mask, 'png');
      files.push({ sample_id: it.id, role: 'mask', uri: maskUri });
    }
  }
  await catalog.append(
    'samples',
    COLUMNS.samples,
    items.map((it, i) => ({
      id: it.id, source: 'df2', path: `${it.split}/image/${(it.meta as { image_id: string }).image_id}.jpg`, split: it.split,
      label: String(it.meta.category_name),
      text: `A ${it.meta.domain === 'query' ? 'user' : 'shop'} photo of a ${String(it.meta.category_name)}.`, meta: it.meta, ord: i, first_run: 1, seen_run: 1,
    })),
  );
  await catalog.append('files', COLUMNS.files, files);
  await catalog.append('file_status', COLUMNS.file_status, [...assets.values()].map((a) => ({ uri: a.uri, sha256: sha256Hex(a.bytes), run_id: 1 })));
  const hashes = new Set<string>();
  for (const a of assets.values()) {
    const h = sha256Hex(a.bytes);
    if (hashes.has(h)) continue;
    hashes.add(h);
    await catalog.run(`INSERT INTO assets (sha256, bytes, format) VALUES (?, ?, ?)`, [h, a.bytes.length, a.format]);
  }
  await useRun(catalog, 1);
  const ctx: ExportContext = { catalog, runId: 1, workdir: work, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }), dev: false };
  return { ctx, dir, items, crops };
}

/** Drop a sample from run 1 (as a step would), so the next export no longer has it. */
export async function dropSample(ctx: ExportContext, id: string): Promise<void> {
  await ctx.catalog.run(`UPDATE samples SET drop_run = 1 WHERE id = ?`, [id]);
}
