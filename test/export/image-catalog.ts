import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { Reporter } from '../../src/exec/reporter.js';
import type { ExportContext } from '../../src/export/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { tempDir } from '../helpers/tmp.js';

export interface TestSample {
  id: string;
  split: string | null;
  label: string | null;
  text: string | null;
  meta: Record<string, unknown> | null;
  /** Index into the image files, or -1 for a file that is not on disk. */
  image: number;
}

export interface ImageCatalog {
  ctx: ExportContext;
  dir: string;
  samples: TestSample[];
  /** Bytes of each sample's image (absent for the missing one). */
  images: Map<string, Buffer>;
}

/** Real JPEG and PNG images (small), shared by the samples. */
async function imageFiles(dir: string): Promise<Array<{ path: string; bytes: Buffer; format: string }>> {
  await mkdir(dir, { recursive: true });
  const files = [
    { name: 'a.jpg', bytes: await photoJpeg({ seed: 11, width: 64, height: 48 }), format: 'jpeg' },
    { name: 'b.jpg', bytes: await photoJpeg({ seed: 12, width: 48, height: 64 }), format: 'jpeg' },
    { name: 'c.png', bytes: await photoPng({ seed: 13, width: 40, height: 40 }), format: 'png' },
  ];
  const out = [];
  for (const f of files) {
    const path = join(dir, f.name);
    await writeFile(path, f.bytes);
    out.push({ path, bytes: f.bytes, format: f.format });
  }
  return out;
}

/** A catalog of `samples` in run 1, with their image files, ready for an exporter. */
export async function buildImageCatalog(samples: TestSample[]): Promise<ImageCatalog> {
  const dir = await tempDir('imgsift-export-');
  const files = await imageFiles(join(dir, 'images'));
  const catalog = await Catalog.open(join(dir, 'work'));
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'finished')`);
  await catalog.append(
    'samples',
    COLUMNS.samples,
    samples.map((s, i) => ({
      id: s.id, source: 'test', path: `data/${s.id}`, split: s.split, label: s.label, text: s.text, meta: s.meta,
      ord: i, first_run: 1, seen_run: 1,
    })),
  );
  const missing = join(dir, 'images', 'missing.jpg');
  await catalog.append(
    'files',
    COLUMNS.files,
    samples.map((s) => ({ sample_id: s.id, role: 'image', uri: s.image < 0 ? missing : files[s.image].path })),
  );
  await catalog.append('file_status', COLUMNS.file_status, [
    ...files.map((f) => ({ uri: f.path, sha256: sha256Hex(f.bytes), run_id: 1 })),
    { uri: missing, error: 'ENOENT', run_id: 1 },
  ]);
  for (const f of files) {
    await catalog.run(`INSERT INTO assets (sha256, bytes, format) VALUES (?, ?, ?)`, [sha256Hex(f.bytes), f.bytes.length, f.format]);
  }
  await useRun(catalog, 1);
  const images = new Map<string, Buffer>();
  for (const s of samples) if (s.image >= 0) images.set(s.id, files[s.image].bytes);
  const ctx: ExportContext = {
    catalog, runId: 1, workdir: join(dir, 'work'), baseDir: dir, reporter: new Reporter({ mode: 'quiet' }), dev: false,
  };
  return { ctx, dir, samples, images };
}

/** Every file under `dir`, relative, with '/' separators, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)).split('\\').join('/'));
  }
  return out.sort();
}
