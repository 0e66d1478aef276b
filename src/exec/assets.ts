import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, tempPathFor, writeViaTemp } from '../util/fs.js';

/**
 * The workdir's content-addressed store of derived files (masks, crops, bucket-sized images):
 * `assets/<first 2 hex>/<sha256>.<ext>`. A file is written to a temporary name and renamed, so an
 * interrupted run never leaves half an asset under its final name; writing the same content twice
 * is a no-op.
 */
export const ASSETS_DIR = 'assets';

export function assetPath(assetsDir: string, sha256: string, ext: string): string {
  return join(assetsDir, sha256.slice(0, 2), `${sha256}.${ext}`);
}

export async function storeAsset(assetsDir: string, sha256: string, ext: string, bytes: Uint8Array): Promise<string> {
  const path = assetPath(assetsDir, sha256, ext);
  if (existsSync(path)) return path;
  await ensureDir(join(assetsDir, sha256.slice(0, 2)));
  await writeViaTemp(tempPathFor(path), path, bytes, true);
  return path;
}

/** Extensions a derived file may have: a short lower-case word. */
export function checkAssetExt(ext: string): string {
  const e = ext.replace(/^\./, '').toLowerCase();
  if (!/^[a-z0-9]{1,8}$/.test(e)) throw new Error(`derived file extension '${ext}' is not a short word such as png or jpg`);
  return e;
}
