// Edit masks of image-edit pairs: imgsift (align + edit_mask) against seed 000's method (SIFT, in
// Python with Debian's OpenCV: bench/ref/seed000_mask.py) on the same pairs, in one run.
// Pairs come from real photographs of Debian packages (python3-skimage, opencv-doc, plasma/desktop-base
// previews; see test/helpers/edit-pairs.ts), inputs 1024 px on the long side, with known edited regions.
// Figures: mean IoU on edited pairs (a rejected edited pair counts 0), different-photo pairs rejected,
// unedited pairs with coverage under 0.5 %, pairs per CPU-second on one thread (decode + align + mask;
// CPU time, so the figure holds on a busy machine) and wall-clock pairs/s.
// Usage: node --import tsx bench/edit-masks.ts [--edited N] [--unedited N] [--different N] [--seed S]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { alignPair } from '../src/image/align.js';
import { editMask, SEED_MASK_PARAMS, type EditMaskParamsInput } from '../src/image/edit-mask.js';
import { loadOpenCv } from '../src/image/geometric.js';
import { installedPhotos, iou, makeEditPairs, type EditPair } from '../test/helpers/edit-pairs.js';

const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const PY = '/usr/bin/python3';
const REF = fileURLToPath(new URL('./ref/seed000_mask.py', import.meta.url));
sharp.concurrency(1); // per-core figures

interface Outcome {
  ok: boolean;
  mask?: Uint8Array;
}

interface Summary {
  label: string;
  /** Wall-clock seconds, and CPU seconds (user + system) of the process doing the work. */
  seconds: number;
  cpuSeconds: number;
  outcomes: Map<string, Outcome>;
}

function report(s: Summary, pairs: EditPair[]): void {
  const edited = pairs.filter((p) => p.kind === 'edited');
  const ious = edited.map((p) => {
    const o = s.outcomes.get(p.name);
    return o?.ok && o.mask ? iou(o.mask, p.truth) : 0;
  });
  const byEdit = new Map<string, number[]>();
  edited.forEach((p, i) => byEdit.set(p.edit!, [...(byEdit.get(p.edit!) ?? []), ious[i]]));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const aligned = edited.filter((p) => s.outcomes.get(p.name)?.ok).length;
  const diff = pairs.filter((p) => p.kind === 'different');
  const rejected = diff.filter((p) => !s.outcomes.get(p.name)?.ok).length;
  const unedited = pairs.filter((p) => p.kind === 'unedited');
  const empty = unedited.filter((p) => {
    const o = s.outcomes.get(p.name);
    if (!o?.ok || !o.mask) return false;
    let on = 0;
    for (const v of o.mask) if (v) on++;
    return on / o.mask.length < 0.005;
  }).length;
  console.log(
    `${s.label.padEnd(26)} mean IoU ${mean(ious).toFixed(3)} (${[...byEdit].map(([k, v]) => `${k} ${mean(v).toFixed(2)}`).join(', ')}); ` +
      `edited aligned ${aligned}/${edited.length}; different rejected ${rejected}/${diff.length}; ` +
      `unedited empty ${empty}/${unedited.length}; ` +
      `${(pairs.length / s.cpuSeconds).toFixed(2)} pairs per CPU-second (${(pairs.length / s.seconds).toFixed(2)} pairs/s wall, single-threaded)`,
  );
}

async function runImgsift(label: string, pairs: EditPair[], mask: EditMaskParamsInput, align = {}): Promise<Summary> {
  const outcomes = new Map<string, Outcome>();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const p of pairs) {
    const a = await alignPair(p.input, p.output, align);
    if (!a.ok) {
      outcomes.set(p.name, { ok: false });
      continue;
    }
    const m = await editMask(p.input, p.output, a.homography, mask);
    outcomes.set(p.name, { ok: true, mask: m.mask });
  }
  const c = process.cpuUsage(c0);
  return { label, seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6, outcomes };
}

async function runReference(pairs: EditPair[], dir: string): Promise<Summary | null> {
  const probe = spawnSync(PY, ['-c', 'import cv2; cv2.SIFT_create()'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`seed reference skipped: ${PY} lacks OpenCV with SIFT (apt-get install -y python3-opencv)`);
    return null;
  }
  const manifest = [];
  for (const p of pairs) {
    const input = join(dir, `${p.name}.in.jpg`);
    const output = join(dir, `${p.name}.out.jpg`);
    await writeFile(input, p.input);
    await writeFile(output, p.output);
    manifest.push({ name: p.name, input, output });
  }
  const manifestPath = join(dir, 'manifest.json');
  await writeFile(manifestPath, JSON.stringify(manifest));
  const masks = join(dir, 'masks');
  await import('node:fs/promises').then((fs) => fs.mkdir(masks));
  const res = spawnSync(PY, [REF, manifestPath, masks], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 1 << 26 });
  if (res.status !== 0) throw new Error(`seed reference failed: ${res.stderr}`);
  const out = JSON.parse(res.stdout) as { seconds: number; cpu_seconds: number; results: Record<string, { ok: boolean }> };
  const outcomes = new Map<string, Outcome>();
  for (const p of pairs) {
    const r = out.results[p.name];
    const file = join(masks, `${p.name}.png`);
    if (!r?.ok || !existsSync(file)) {
      outcomes.set(p.name, { ok: false });
      continue;
    }
    const raw = await sharp(file).greyscale().raw().toBuffer();
    outcomes.set(p.name, { ok: true, mask: new Uint8Array(raw) });
  }
  return { label: 'seed 000 (Python, SIFT)', seconds: out.seconds, cpuSeconds: out.cpu_seconds, outcomes };
}

const photos = installedPhotos();
console.log(
  photos.length >= 2
    ? `photos: ${photos.length} from Debian packages`
    : 'photos: none installed (apt-get install -y python3-skimage opencv-doc); using synthetic scenes',
);
const pairs = await makeEditPairs({
  longSide: 1024,
  edited: arg('edited', 32),
  unedited: arg('unedited', 8),
  different: arg('different', 8),
  seed: arg('seed', 12),
});
console.log(`pairs: ${pairs.length} (${pairs.filter((p) => p.kind === 'edited').length} edited, ${pairs.filter((p) => p.kind === 'unedited').length} unedited, ${pairs.filter((p) => p.kind === 'different').length} different photos), inputs 1024 px`);
await loadOpenCv(); // WASM start-up is not per pair
const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-edit-'));
try {
  report(await runImgsift('imgsift (default)', pairs, {}), pairs);
  report(await runImgsift('imgsift (seed preset)', pairs, SEED_MASK_PARAMS), pairs);
  const ref = await runReference(pairs, dir);
  if (ref) report(ref, pairs);
} finally {
  await rm(dir, { recursive: true, force: true });
}
