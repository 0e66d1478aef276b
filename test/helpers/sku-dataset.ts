import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePhotos } from './dataset.js';

/** One row of a DeepFashion2-style image–text manifest (seed 001), before SKU ids are derived. */
export interface SkuRow {
  id: string;
  image: string;
  pair_id: number | null;
  style: number;
  category_id: number;
  category_name: string;
  domain: 'catalog' | 'query';
  occlusion: number;
  viewpoint: number;
  item: { bbox: number[]; item_idx: number };
}

export const CATEGORY_NAMES = ['short sleeve top', 'long sleeve dress', 'trousers'];

/**
 * Write photo-like crops and a jsonl manifest of `skus` SKUs with three crops each. SKU k has
 * pair_id 10+k, style 1 + k%2, category 1 + k%3; its crops are one catalog (shop) photo and two
 * query (user) photos, except the SKUs listed in `catalogOnly`, whose three crops are all shop
 * photos (seed 001's `--only_pairs` drops those). Returns the manifest path and its rows.
 */
export async function writeSkuDataset(
  dir: string,
  options: { skus?: number; catalogOnly?: number[]; edit?: (row: SkuRow, i: number) => void } = {},
): Promise<{ manifest: string; rows: SkuRow[] }> {
  const skus = options.skus ?? 8;
  const names = await writePhotos(join(dir, 'images'), skus * 3, { size: [64, 48] });
  const rows: SkuRow[] = names.map((image, i) => {
    const k = Math.floor(i / 3);
    const onlyShop = options.catalogOnly?.includes(k) ?? false;
    return {
      id: `sku${k}_crop${i % 3}`,
      image,
      pair_id: 10 + k,
      style: 1 + (k % 2),
      category_id: 1 + (k % 3),
      category_name: CATEGORY_NAMES[k % 3],
      domain: onlyShop || i % 3 === 0 ? 'catalog' : 'query',
      occlusion: 1 + (i % 3),
      viewpoint: 1 + ((i + 1) % 3),
      item: { bbox: [i, 2 * i, 100 + i, 150 + i], item_idx: 1 + (i % 2) },
    };
  });
  rows.forEach((r, i) => options.edit?.(r, i));
  const manifest = join(dir, 'images', 'items.jsonl');
  await writeFile(manifest, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { manifest, rows };
}

/** Seed 001's words for its prompt: `A {domain} {category}{occlusion} {viewpoint}.` */
export const SKU_LOOKUPS = {
  domain_words: { catalog: 'shop photo of a', query: 'user photo of a person wearing a' },
  occlusion_words: { 1: '', 2: ', partly occluded', 3: ', heavily occluded' },
  viewpoint_words: { 1: 'laid flat', 2: 'from the front', 3: 'from the side or back' },
};
