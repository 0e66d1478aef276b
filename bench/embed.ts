/**
 * Embedding throughput: images/s through the embed path (sharp preprocessing + onnxruntime on CPU,
 * with a cached session, as each worker thread runs it), single thread, at each batch size given
 * (the embed step's `batch_size`; 1 is one image per inference call). With the tiny test encoder
 * by default; with a real model when one is given.
 *
 *   node --import tsx bench/embed.ts [--n 200] [--size 640x480] [--threads 1] [--batch 1,16]
 *   node --import tsx bench/embed.ts --model /path/to/clip-vision.onnx --preset clip-vit-b32 [--n 50]
 *
 * The build runs one such loop per worker thread (IMGSIFT_ORT_THREADS sets onnxruntime's threads per
 * worker), so a build's rate is about this figure times the workers, memory allowing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { photoJpeg, SCENE_KINDS } from '../src/demo/synth.js';
import { Encoder } from '../src/embed/encoder.js';
import { resolveModel } from '../src/embed/models-dir.js';
import { preprocessImage } from '../src/embed/preprocess.js';
import { installTinyModel } from '../test/embed/helpers.js';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const n = Number(arg('--n', '200'));
const [w, h] = arg('--size', '640x480')!.split('x').map(Number);
const threads = Number(arg('--threads', '1'));

const tmp = await mkdtemp(join(tmpdir(), 'imgsift-bench-embed-'));
try {
  const modelArg = arg('--model');
  const model = modelArg
    ? resolveModel({ model: modelArg, preset: arg('--preset') })
    : resolveModel({ model: 'tiny', dir: await installTinyModel(tmp) });
  const images = await Promise.all(Array.from({ length: Math.min(n, 40) }, (_, i) => photoJpeg({ seed: i, width: w, height: h, kind: SCENE_KINDS[i % 5] })));
  const t0 = performance.now();
  const enc = await Encoder.load(model, { threads });
  const loadMs = performance.now() - t0;
  await enc.embedImages([images[0]]); // warm-up
  console.log(`model ${model.id} (${model.manifest.image!.size}px input, ${model.manifest.dim ?? '?'}-d), session load ${loadMs.toFixed(0)} ms, ort threads ${threads}`);
  const t2 = performance.now();
  for (let i = 0; i < n; i++) await preprocessImage(images[i % images.length], model.manifest.image!);
  const preMs = (performance.now() - t2) / n;
  console.log(`sharp preprocessing alone: ${preMs.toFixed(1)} ms per ${w}x${h} JPEG`);
  for (const b of arg('--batch', '1,16')!.split(',').map(Number)) {
    const c0 = process.cpuUsage();
    const t1 = performance.now();
    for (let i = 0; i < n; i += b) {
      const batch = Array.from({ length: Math.min(b, n - i) }, (_, k) => images[(i + k) % images.length]);
      await enc.embedImagesEach(batch);
    }
    const s = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(c0);
    console.log(`batch ${String(b).padStart(3)}: ${n} images in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} images/s (${((s * 1000) / n).toFixed(1)} ms each), CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  await enc.release();
} finally {
  await rm(tmp, { recursive: true, force: true });
}
