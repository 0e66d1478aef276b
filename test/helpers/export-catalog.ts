import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { Reporter } from '../../src/exec/reporter.js';
import type { ExportContext } from '../../src/export/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { tempDir } from './tmp.js';

export interface Built {
  ctx: ExportContext;
  /** Sample id → the bytes of its image on disk. */
  images: Map<string, Buffer>;
  ids: string[];
}

/**
 * A catalog of 47 samples over three real images (two JPEGs, one PNG) in train/dev/test; or of
 * the samples `withIds` names, in the same way.
 */
export async function buildCatalog(withIds?: string[]): Promise<Built> {
  const dir = await tempDir('imgsift-wds-');
  const imgDir = join(dir, 'images');
  const files = [
    { name: 'a.jpg', bytes: await photoJpeg({ seed: 1, width: 96, height: 64 }), format: 'jpeg' },
    { name: 'b.jpg', bytes: await photoJpeg({ seed: 2, width: 80, height: 80 }), format: 'jpeg' },
    { name: 'c.png', bytes: await photoPng({ seed: 3, width: 64, height: 48 }), format: 'png' },
  ];
  await mkdir(imgDir, { recursive: true });
  for (const f of files) await writeFile(join(imgDir, f.name), f.bytes);
  const mask = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).greyscale().png().toBuffer();
  await writeFile(join(imgDir, 'mask.png'), mask);

  const catalog = await Catalog.open(dir);
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  const ids: string[] = withIds ? [...withIds] : [];
  if (!withIds) {
    for (let i = 0; i < 45; i++) ids.push(`cls${i % 3}/img.${String(i).padStart(3, '0')}.jpg`);
    ids.push('cls0_img_000_jpg'); // collides with cls0/img.000.jpg after sanitizing
    ids.push('missing-file'); // its image is not on disk: skipped, not fatal
  }
  const images = new Map<string, Buffer>();
  const splits = ['train', 'train', 'train', 'dev', 'test'];
  const samples = ids.map((id, i) => ({
    id, source: 'test', path: id, split: splits[i % 5], label: ['cat', 'dog', 'bird'][i % 3],
    text: i % 4 === 0 ? null : `caption ${i}`, meta: { n: i, edit: 'add' }, ord: i, first_run: 1, seen_run: 1,
  }));
  const fileRows: Array<{ sample_id: string; role: string; uri: string }> = [];
  ids.forEach((id, i) => {
    const f = files[i % 3];
    const uri = id === 'missing-file' ? join(imgDir, 'nope.jpg') : join(imgDir, f.name);
    fileRows.push({ sample_id: id, role: 'image', uri });
    if (id !== 'missing-file') images.set(id, f.bytes);
    if (i % 2 === 0) fileRows.push({ sample_id: id, role: 'mask', uri: join(imgDir, 'mask.png') });
  });
  await catalog.append('samples', COLUMNS.samples, samples);
  await catalog.append('files', COLUMNS.files, fileRows);
  await catalog.append('file_status', COLUMNS.file_status, [
    ...files.map((f) => ({ uri: join(imgDir, f.name), sha256: sha256Hex(f.bytes), run_id: 1 })),
    { uri: join(imgDir, 'nope.jpg'), error: 'ENOENT', run_id: 1 },
  ]);
  for (const f of files) {
    await catalog.run(`INSERT INTO assets (sha256, bytes, format) VALUES (?, ?, ?)`, [sha256Hex(f.bytes), f.bytes.length, f.format]);
  }
  await useRun(catalog, 1);
  const ctx: ExportContext = { catalog, runId: 1, workdir: dir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }), dev: false };
  return { ctx, images, ids };
}

