import sharp from 'sharp';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { photoPixels } from '../../src/demo/synth.js';

/**
 * `count` distinct photo-like JPEGs of `width`x`height` in $TMPDIR/imgsift-bench-<name>, generated
 * once and reused. Rendering a scene costs ~0.5 s, so 16 larger scenes are rendered and each image
 * is a different window of one, hue-shifted and sometimes mirrored: distinct content with photo
 * statistics at ~15 ms an image.
 */
export async function benchJpegs(name: string, count: number, width = 1024, height = 768): Promise<string[]> {
  const dir = join(tmpdir(), `imgsift-bench-${name}-${width}x${height}`);
  await mkdir(dir, { recursive: true });
  const have = new Set((await readdir(dir)).filter((n) => n.endsWith('.jpg')));
  const names = Array.from({ length: count }, (_, i) => `img-${String(i).padStart(6, '0')}.jpg`);
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) {
    const t0 = performance.now();
    process.stderr.write(`generating ${missing.length} ${width}x${height} JPEGs into ${dir} ...\n`);
    const padW = Math.round(width * 0.1), padH = Math.round(height * 0.1);
    const bases = [];
    for (let s = 0; s < 16; s++) bases.push(await photoPixels({ seed: 1000 + s, width: width + padW, height: height + padH }));
    for (const file of missing) {
      const i = Number(file.slice(4, 10));
      const b = bases[i % bases.length];
      let img = sharp(b.data, { raw: { width: b.width, height: b.height, channels: 3 } })
        .extract({ left: (i * 7) % padW, top: (i * 13) % padH, width, height })
        .modulate({ hue: (i * 37) % 360, brightness: 0.9 + ((i * 11) % 20) / 100 });
      if (i % 2) img = img.flop();
      await writeFile(join(dir, file), await img.jpeg({ quality: 85 }).toBuffer());
    }
    process.stderr.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  return names.map((n) => join(dir, n));
}

/** Peak resident memory of this process so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
