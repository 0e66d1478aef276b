import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { photoJpeg, SCENE_KINDS } from '../../src/demo/synth.js';

/**
 * A small ImageNet-style dump as seed 002 makes it from the Hugging Face dataset:
 * `train/<label>/<row index>.jpg` and `val/<label>/<row index>.jpg` (integer labels, indices
 * counted per split), with planted problems and a vendor issue export with its own column names:
 *  - leaks: val images that are resized, recompressed copies of train images (larger than the
 *    train copy, so a "keep the largest" rule alone would keep the val copy);
 *  - train duplicates: byte-identical copies under another index;
 *  - mislabels: train images filed under another class; the vendor suggests the right one;
 *  - vendor `Duplicate` flags on the train copies imgsift keeps.
 * Labels are scene kinds: 0 beach, 1 forest, 2 night, 3 city, 4 snow.
 */

export interface ImagenetTruth {
  root: string;
  /** The vendor export (columns: img, problem, certainty, proposed_class, why). */
  vendorExport: string;
  train: number;
  val: number;
  /** Leaked pictures: train path and val path. */
  leaks: Array<{ train: string; val: string }>;
  /** Byte-identical train copies: the original and its copy. */
  trainDuplicates: Array<{ original: string; copy: string }>;
  /** Train images filed under a wrong label; `label` is the true one. */
  mislabels: Array<{ path: string; index: number; filed: string; label: string; confidence: number }>;
}

export interface GenerateOptions {
  perClass?: number;
  valPerClass?: number;
  leaks?: number;
  duplicates?: number;
  mislabels?: number;
  seed?: number;
}

export async function generateImagenetDump(root: string, o: GenerateOptions = {}): Promise<ImagenetTruth> {
  const perClass = o.perClass ?? 8;
  const valPerClass = o.valPerClass ?? 3;
  const seed = o.seed ?? 2002;
  const classes = SCENE_KINDS.length;
  const nLeaks = o.leaks ?? 4;
  const nDups = o.duplicates ?? 3;
  const nMis = o.mislabels ?? 3;
  const write = async (rel: string, data: Buffer) => {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), data);
  };
  const truth: ImagenetTruth = { root, vendorExport: join(root, 'vendor_export.csv'), train: 0, val: 0, leaks: [], trainDuplicates: [], mislabels: [] };

  // Train: perClass pictures per class, row indices in HF order (class-interleaved).
  const train: Array<{ index: number; label: number; bytes: Buffer; path: string }> = [];
  for (let i = 0; i < perClass * classes; i++) {
    const label = i % classes;
    const bytes = await photoJpeg({ seed: seed + i, width: 192, height: 144, kind: SCENE_KINDS[label] });
    train.push({ index: i, label, bytes, path: '' });
  }
  // Mislabels: every (perClass)th picture from the end goes under the next class's folder.
  for (let k = 0; k < nMis; k++) {
    const t = train[train.length - 1 - k * 2];
    const filed = (t.label + 1) % classes;
    truth.mislabels.push({ path: `train/${filed}/${t.index}.jpg`, index: t.index, filed: String(filed), label: String(t.label), confidence: k === nMis - 1 ? 0.6 : 0.95 });
  }
  const filedLabel = (t: { index: number; label: number }) => Number(truth.mislabels.find((m) => m.index === t.index)?.filed ?? t.label);
  for (const t of train) {
    t.path = `train/${filedLabel(t)}/${t.index}.jpg`;
    await write(t.path, t.bytes);
  }
  // Train duplicates: a copy of picture k under a new index, same class.
  let next = train.length;
  for (let k = 0; k < nDups; k++) {
    const orig = train[1 + k * 3];
    const copy = `train/${filedLabel(orig)}/${next++}.jpg`;
    await write(copy, orig.bytes);
    truth.trainDuplicates.push({ original: orig.path, copy });
  }
  truth.train = next;

  // Val: new pictures, then leaked copies of train pictures (larger and recompressed).
  let v = 0;
  for (let i = 0; i < valPerClass * classes; i++) {
    const label = i % classes;
    await write(`val/${label}/${v++}.jpg`, await photoJpeg({ seed: seed + 10_000 + i, width: 192, height: 144, kind: SCENE_KINDS[label] }));
  }
  for (let k = 0; k < nLeaks; k++) {
    const t = train[10 + k * 4];
    const copy = await sharp(t.bytes).resize(240, 180).jpeg({ quality: 88 }).toBuffer();
    const val = `val/${t.label}/${v++}.jpg`;
    await write(val, copy);
    truth.leaks.push({ train: t.path, val });
  }
  truth.val = v;

  // The vendor's export: its own column names and issue spellings.
  const rows = ['img,problem,certainty,proposed_class,why'];
  for (const m of truth.mislabels) rows.push(`${m.path},Mislabel,${m.confidence},${m.label},looks like class ${m.label}`);
  for (const l of truth.leaks) rows.push(`${l.train},Duplicate,0.99,,near copy in the dataset`);
  for (const d of truth.trainDuplicates) rows.push(`${d.original},Duplicate,1.0,,exact copy in the dataset`);
  rows.push(`${train[3].path},Outlier,0.7,,unusual picture`);
  await writeFile(truth.vendorExport, rows.join('\n') + '\n');
  return truth;
}

/** Column mapping for `imgsift import-issues --map`. */
export const VENDOR_MAP = 'path=img,issue_type=problem,confidence=certainty,suggested_label=proposed_class,reason=why';

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? 'data';
  const t = await generateImagenetDump(out);
  process.stdout.write(`wrote ${t.train} train and ${t.val} val images to ${out}; vendor export ${t.vendorExport}\n`);
}
