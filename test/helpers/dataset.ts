import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';

/**
 * Write `count` photo-like JPEGs (distinct seeds) into `dir`, optionally spread over class
 * folders, plus the extra files given (name → bytes). Returns the image file names written.
 */
export async function writePhotos(
  dir: string,
  count: number,
  options: { size?: [number, number]; classes?: string[]; seed?: number; extra?: Record<string, Buffer> } = {},
): Promise<string[]> {
  const [w, h] = options.size ?? [160, 120];
  const names: string[] = [];
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const cls = options.classes ? options.classes[i % options.classes.length] : undefined;
    const name = cls ? `${cls}/img_${String(i).padStart(5, '0')}.jpg` : `img_${String(i).padStart(5, '0')}.jpg`;
    names.push(name);
    jobs.push(
      (async () => {
        await mkdir(join(dir, cls ?? ''), { recursive: true });
        await writeFile(join(dir, name), await photoJpeg({ seed: (options.seed ?? 1000) + i, width: w, height: h }));
      })(),
    );
    if (jobs.length >= 8) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
  for (const [name, bytes] of Object.entries(options.extra ?? {})) {
    await writeFile(join(dir, name), bytes);
    names.push(name);
  }
  return names;
}
