import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoJpeg } from '../../src/demo/synth.js';
import { tarBuffer, type TarEntry } from '../../src/export/tar.js';

export const W = 64;
export const H = 48;

/** A single-channel mask with the given rectangles (inclusive x0..x1, y0..y1) set to 255. */
export function maskPixels(rects: Array<[number, number, number, number]>, w = W, h = H): Buffer {
  const px = Buffer.alloc(w * h);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) px[y * w + x] = 255;
  return px;
}

export async function maskPng(rects: Array<[number, number, number, number]>, w = W, h = H): Promise<Buffer> {
  return sharp(maskPixels(rects, w, h), { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();
}

export interface Fixture {
  key: string;
  members: Record<string, Buffer>;
}

/** Samples with known mask geometry (64×48 inputs). */
export async function fixtures(): Promise<Record<string, Fixture>> {
  const input = await photoJpeg({ seed: 5, width: W, height: H });
  const text = (s: string) => Buffer.from(s);
  const sample = async (key: string, rects: Array<[number, number, number, number]> | null, extra: Record<string, Buffer> = {}) => ({
    key,
    members: { 'input.jpg': input, ...(rects ? { 'mask.png': await maskPng(rects) } : {}), 'text.txt': text(`edit ${key}`), ...extra },
  });
  return {
    // 20×20 square on the left edge: 400 px = 13.02 %, one component, touches the border.
    rect: await sample('000001', [[0, 10, 19, 29]]),
    // Two separate 10×10 blobs, 10 px from the border at the closest.
    blobs: await sample('000002', [[10, 10, 19, 19], [40, 25, 49, 34]]),
    // A 9×9 square 2 px from the top-left corner: an edge warning (2 < 5 % of 48), not touching.
    near: await sample('000003', [[2, 2, 10, 10]]),
    empty: await sample('000004', []),
    full: await sample('000005', [[0, 0, W - 1, H - 1]]),
    // Mask at half the input's size.
    small: { key: '000006', members: { 'input.jpg': input, 'mask.png': await maskPng([[4, 4, 8, 8]], 32, 24), 'text.txt': text('small') } },
    nomask: await sample('000007', null),
    broken: { key: '000008', members: { 'input.jpg': Buffer.from('not a jpeg at all'), 'mask.png': await maskPng([[20, 20, 30, 30]]), 'text.txt': text('x') } },
  };
}

export function entries(samples: Fixture[]): TarEntry[] {
  return samples.flatMap((s) => Object.entries(s.members).map(([ext, data]) => ({ name: `${s.key}.${ext}`, data })));
}

export async function writeTar(path: string, samples: Fixture[]): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, await tarBuffer(entries(samples)));
}

export async function writeExtracted(dir: string, samples: Fixture[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const e of entries(samples)) await writeFile(join(dir, e.name), e.data);
}
