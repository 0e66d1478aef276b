import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { imageFormat, openImage } from '../image/open.js';
import { approxTokenCounter, checkCaption, CLIP_MAX_TOKENS, readCaption } from '../text/caption.js';

/**
 * `imgsift validate` for a kohya-ss training folder (seed 003's DatasetValidator): structure and
 * naming (`img/<repeats>_<name>/`, `reg/<repeats>_<class>/`), image/caption pairs, resolution,
 * format, corruption, caption length (75 CLIP tokens, approximate), trigger word, encoding, and
 * bucket fill (images per resolution against the batch size).
 */

const IMAGE_EXT = new Set(['png', 'jpg', 'jpeg', 'webp', 'bmp']);
const CONCEPT = /^(\d+)_(.+)$/;

export interface KohyaValidateOptions {
  /** Trigger word training captions must hold (default: the first word of each img/ folder's name). */
  trigger?: string;
  captionExtension?: string;
  minSide?: number;
  maxTokens?: number;
  batchSize?: number;
}

export interface KohyaProblem {
  file: string;
  problem: string;
}

export interface KohyaReport {
  root: string;
  folders: Array<{ dir: string; repeats: number; name: string; images: number; captions: number }>;
  images: number;
  captions: number;
  /** Images per resolution (`WxH`). */
  buckets: Record<string, number>;
  problems: KohyaProblem[];
}

/** Whether `dir` looks like a kohya folder: an img/ with at least one `<n>_name` folder. */
export async function isKohyaFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(join(dir, 'img'), { withFileTypes: true })).some((e) => e.isDirectory() && CONCEPT.test(e.name));
  } catch {
    return false;
  }
}

export async function validateKohya(root: string, o: KohyaValidateOptions = {}): Promise<KohyaReport> {
  const capExt = o.captionExtension ?? '.txt';
  const minSide = o.minSide ?? 512;
  const batch = o.batchSize ?? 1;
  const report: KohyaReport = { root, folders: [], images: 0, captions: 0, buckets: {}, problems: [] };
  const problem = (file: string, p: string) => report.problems.push({ file, problem: p });
  const captionTexts = new Map<string, string[]>();

  for (const top of ['img', 'reg']) {
    let entries;
    try {
      entries = await readdir(join(root, top), { withFileTypes: true });
    } catch {
      if (top === 'img') problem('img/', 'missing: a kohya folder has img/<repeats>_<name>/');
      continue;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = `${top}/${e.name}`;
      const m = CONCEPT.exec(e.name);
      if (!e.isDirectory() || !m) {
        problem(rel, e.isDirectory() ? 'folder name is not <repeats>_<name>: kohya will not read it' : 'file outside a concept folder');
        continue;
      }
      const folder = { dir: rel, repeats: Number(m[1]), name: m[2], images: 0, captions: 0 };
      if (folder.repeats < 1) problem(rel, 'repeat count 0: the folder never trains');
      report.folders.push(folder);
      const trigger = top === 'img' ? (o.trigger ?? m[2].split(/\s+/)[0]) : undefined;
      const files = (await readdir(join(root, rel))).sort();
      const images = new Set(files.filter((f) => IMAGE_EXT.has(f.slice(f.lastIndexOf('.') + 1).toLowerCase())).map((f) => f.replace(/\.[^.]*$/, '')));
      for (const f of files) {
        const path = join(root, rel, f);
        const frel = `${rel}/${f}`;
        if (!(await stat(path)).isFile()) { problem(frel, 'not a file'); continue; }
        const ext = f.slice(f.lastIndexOf('.') + 1).toLowerCase();
        const stem = f.replace(/\.[^.]*$/, '');
        if (f.endsWith(capExt)) {
          folder.captions++;
          report.captions++;
          if (!images.has(stem)) problem(frel, 'caption without an image');
          const cap = readCaption(await readFile(path), frel);
          for (const i of cap.issues) problem(frel, i.type === 'caption_not_utf8' ? 'caption is not UTF-8' : 'caption has several lines (sd-scripts reads the first)');
          for (const i of checkCaption(cap.text, { trigger, counter: approxTokenCounter, maxTokens: o.maxTokens ?? CLIP_MAX_TOKENS })) {
            const ev = i.evidence as { tokens?: number; max_tokens?: number } | undefined;
            problem(frel, i.type === 'caption_empty' ? 'empty caption'
              : i.type === 'caption_missing_trigger' ? `caption lacks the trigger word '${trigger}'`
              : `caption is ~${ev?.tokens} tokens, over ${ev?.max_tokens} (approximate count)`);
          }
          if (top === 'img' && cap.text) captionTexts.set(cap.text.toLowerCase(), [...(captionTexts.get(cap.text.toLowerCase()) ?? []), frel]);
          continue;
        }
        if (!IMAGE_EXT.has(ext)) {
          problem(frel, `neither an image kohya reads nor a ${capExt} caption`);
          continue;
        }
        folder.images++;
        report.images++;
        if (!files.includes(stem + capExt)) problem(frel, `no ${capExt} caption (kohya falls back to the folder name)`);
        const bytes = await readFile(path);
        try {
          // openImage decodes BMP (which libvips cannot) in full, so a BMP is checked like the rest.
          const { info } = await openImage(bytes, { failOn: 'error' }).rotate().raw().toBuffer({ resolveWithObject: true });
          const format = await imageFormat(bytes);
          const fmt = format === 'jpeg' ? ['jpg', 'jpeg'] : format === 'bmp' ? ['bmp', 'dib'] : [format ?? ''];
          if (!fmt.includes(ext)) problem(frel, `extension .${ext} but the content is ${format}`);
          if (Math.min(info.width, info.height) < minSide) problem(frel, `${info.width}x${info.height}: under ${minSide} px on the short side`);
          const key = `${info.width}x${info.height}`;
          report.buckets[key] = (report.buckets[key] ?? 0) + 1;
        } catch (err) {
          problem(frel, `corrupt: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      if (folder.images === 0) problem(rel, 'no images');
    }
  }
  // Augmented copies (`<stem>_aug<n>`) share their original's caption by design.
  const base = (f: string) => f.replace(/\.[^.]*$/, '').replace(/_aug\d+$/, '');
  for (const files of captionTexts.values()) {
    const others = new Set(files.map(base));
    if (others.size > 1) for (const f of files) problem(f, `same caption as ${others.size - 1} other image(s)`);
  }
  for (const [size, n] of Object.entries(report.buckets)) {
    if (n < batch) problem(size, `bucket ${size} holds ${n} image(s), fewer than the batch size ${batch}`);
  }
  return report;
}

export function formatKohyaReport(r: KohyaReport): string {
  const lines = ['Dataset Validation Report (kohya)', `Folder: ${r.root}`, `Total images: ${r.images}`, `Caption files: ${r.captions}`];
  for (const f of r.folders) lines.push(`  ${f.dir}: ${f.images} images x ${f.repeats} repeats, ${f.captions} captions`);
  lines.push('Buckets: ' + (Object.entries(r.buckets).sort().map(([k, n]) => `${k} ${n}`).join(', ') || '(none)'));
  lines.push(`Issues found: ${r.problems.length}`);
  for (const p of r.problems) lines.push(`- ${p.file}: ${p.problem}`);
  return lines.join('\n') + '\n';
}
