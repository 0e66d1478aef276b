import { z } from 'zod';
import { ImgsiftError, UsageError, errorMessage } from '../errors.js';
import { readUri } from '../util/uri.js';
import { encodeAs, extensionOfFormat, formatOf, formatOfExtension, isMaskRole } from './convert.js';
import { extensionOf, orderedMap } from './file-export.js';
import { commitOwned, listOwned, ownedKey, type OwnedFile } from './owned-files.js';
import { checkedRelativePath, pathTemplateProblem, renderTemplate } from './path-template.js';
import { activeSamplesWithFiles, templateView, type ViewSample } from './sample-view.js';
import { S3Options, sinkFor, type Sink } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * `files`: one file per sample, the sample's file of one role written where a path template says
 * (`{split}/{domain}/{sku_id}/{image_id}_item{item_idx}.{ext}`). The template's extension picks
 * the format: bytes are copied when the stored file already is that format, converted otherwise
 * (`quality` for JPEG/WebP); `{ext}` keeps the stored format (or `format`'s). Masks are only
 * written as lossless PNG.
 *
 * All paths are worked out before anything is written: two samples mapping to one path, or a path
 * escaping the folder, stop the export with the samples named. The export records what it wrote
 * in `.imgsift/files-<role>.json` (or `.imgsift/<name>.json`) inside `to`: a rerun removes the
 * files it wrote before and no longer produces, and never touches other exports' files there.
 */

const FORMATS = ['keep', 'jpg', 'png', 'webp'] as const;

export const FilesOptions = z
  .object({
    /** A local folder (relative to the recipe) or s3://bucket/prefix. */
    to: z.string().min(1),
    s3: S3Options.optional(),
    /** Which of the sample's files: 'image' (the main one), or a derived role such as crop, mask, output. */
    role: z.string().min(1).default('image'),
    /** Where each file goes under `to`: a template over sample fields, meta fields, {role} and {ext}. */
    path: z.string().min(1),
    /** The format `{ext}` stands for: keep the stored one (default), or convert. A literal extension decides by itself. */
    format: z.enum(FORMATS).default('keep'),
    /** JPEG/WebP quality when converting. */
    quality: z.number().int().min(1).max(100).default(90),
    /** This export's name in the folder's `.imgsift/` records (default files-<role>); needed when two files exports share a folder and a role. */
    name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'name must be letters, digits, _, . and -').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const problem = pathTemplateProblem(o.path);
    if (problem) return ctx.addIssue({ code: 'custom', path: ['path'], message: problem });
    const ext = literalExtension(o.path);
    if (ext === null) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: `path template ${JSON.stringify(o.path)} must end in a file extension such as .jpg, .png or {ext}` });
    } else if (ext !== '{ext}') {
      if (!formatOfExtension(ext)) {
        ctx.addIssue({ code: 'custom', path: ['path'], message: `path template ${JSON.stringify(o.path)}: '.${ext}' is not an image extension (jpg, png, webp, or {ext} to keep the stored format)` });
      } else if (o.format !== 'keep' && formatOfExtension(ext) !== formatOfExtension(o.format)) {
        ctx.addIssue({ code: 'custom', path: ['format'], message: `format ${o.format} contradicts the template's extension .${ext}; drop one of them` });
      }
      if (isMaskRole(o.role) && formatOfExtension(ext) !== 'png') {
        ctx.addIssue({ code: 'custom', path: ['path'], message: `role '${o.role}' holds masks, which are written as lossless PNG: end the template in .png or {ext}` });
      }
    } else if (isMaskRole(o.role) && o.format !== 'keep' && o.format !== 'png') {
      ctx.addIssue({ code: 'custom', path: ['format'], message: `role '${o.role}' holds masks, which are written as lossless PNG` });
    }
  });
export type FilesOptions = z.infer<typeof FilesOptions>;

/** The template's extension: a literal one (lower case), '{ext}', or null when it has none. */
function literalExtension(template: string): string | null {
  if (/\.\{ext\}$/.test(template)) return '{ext}';
  const ext = extensionOf(template);
  return ext && /^[a-z0-9]+$/.test(ext) ? ext : null;
}

/** One file to write. */
interface Planned {
  sample: ViewSample;
  path: string;
  /** Format to write (sharp's name), or null to keep the stored one. */
  target: string | null;
}

export const filesExporter: Exporter<FilesOptions> = {
  format: 'files',
  description: 'one file per sample (any role) at a path template, copied or converted by extension',
  options: FilesOptions,
  async run(ctx: ExportContext, options: FilesOptions): Promise<ExportStats> {
    const sink = await sinkFor(ctx, options.to, options.s3);
    try {
      return await exportFiles(ctx, sink, options);
    } finally {
      await sink.close();
    }
  },
};

/** The key of a files export's record in `.imgsift/`. */
export function filesExportKey(options: Pick<FilesOptions, 'role' | 'name'>): string {
  return options.name ?? ownedKey('files', options.role);
}

/** Per open catalog: (run, folder, key) → template of the files exports run so far. */
const claimed = new WeakMap<object, Map<string, string>>();

async function exportFiles(ctx: ExportContext, sink: Sink, options: FilesOptions): Promise<ExportStats> {
  const { reporter } = ctx;
  const key = filesExportKey(options);
  const ext = literalExtension(options.path);
  const literalTarget = ext && ext !== '{ext}' ? formatOfExtension(ext)! : null;
  const chosen = options.format === 'keep' ? null : formatOfExtension(options.format)!;
  const mask = isMaskRole(options.role);

  // Two files exports of one role and name in one folder would remove each other's files.
  const seen = claimed.get(ctx.catalog) ?? new Map<string, string>();
  claimed.set(ctx.catalog, seen);
  const claim = `${ctx.runId}\0${sink.location}\0${key}`;
  if (seen.has(claim) && seen.get(claim) !== options.path) {
    throw new UsageError(
      `files: two files exports write role '${options.role}' into ${sink.location}; give each its own 'name:'`,
    );
  }
  seen.set(claim, options.path);

  const samples = await activeSamplesWithFiles(ctx);
  let missing = 0;
  let skipped = 0;
  const warnSkip = (id: string, why: string) => {
    skipped++;
    if (skipped <= 5) reporter.warn(`files: skipped sample ${id}: ${why}`);
  };

  // Paths first: a collision or an escaping path stops the export before anything is written.
  const planned: Planned[] = [];
  const byPath = new Map<string, string[]>();
  for (const s of samples) {
    const file = s.files.get(options.role);
    if (!file) {
      missing++;
      continue;
    }
    let path: string;
    let target: string | null;
    try {
      // {ext} of an unprobed file needs its format: sniffed from the bytes.
      const stored = file.format ?? (literalTarget || chosen ? null : await formatOf(await readUri(file.uri), null));
      if (!literalTarget && !chosen && stored === null) throw new Error(`cannot tell the format of ${file.uri} for {ext}`);
      target = literalTarget ?? chosen ?? (mask && stored !== 'png' ? 'png' : null);
      const extValue = extensionOfFormat(target ?? stored!);
      path = checkedRelativePath(renderTemplate(options.path, templateView(s, { role: options.role, ext: extValue })));
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const msg = errorMessage(err);
      if (/escapes|absolute|\.imgsift/.test(msg)) throw new ImgsiftError(`files: sample ${JSON.stringify(s.id)}: ${msg} (template ${JSON.stringify(options.path)})`);
      warnSkip(s.id, msg);
      continue;
    }
    planned.push({ sample: s, path, target });
    const ids = byPath.get(path);
    if (ids) ids.push(s.id);
    else byPath.set(path, [s.id]);
  }
  const collisions = [...byPath].filter(([, ids]) => ids.length > 1);
  if (collisions.length) {
    const shown = collisions.slice(0, 5).map(([p, ids]) => `  ${p}: ${ids.map((i) => JSON.stringify(i)).join(', ')}`);
    throw new ImgsiftError(
      `files: ${collisions.length} path(s) of template ${JSON.stringify(options.path)} are shared by several samples:\n${shown.join('\n')}` +
        (collisions.length > 5 ? `\n  ... and ${collisions.length - 5} more` : '') +
        `\nadd a field that tells them apart (e.g. {id}) to the template`,
    );
  }

  // Files another export in this folder recorded are not ours to overwrite.
  const others = new Map<string, string>();
  for (const idx of await listOwned(sink)) {
    if (idx.key === key) continue;
    for (const f of idx.files) others.set(f.path, idx.key);
  }
  const taken = planned.filter((p) => others.has(p.path));
  if (taken.length) {
    const shown = taken.slice(0, 5).map((p) => `  ${p.path} (sample ${JSON.stringify(p.sample.id)}) belongs to export '${others.get(p.path)}'`);
    throw new ImgsiftError(
      `files: ${taken.length} path(s) in ${sink.location} are another export's files:\n${shown.join('\n')}\n` +
        `change the template, or delete .imgsift/<that export>.json if that export is gone`,
    );
  }

  const swept = await sink.sweep();
  if (swept) reporter.info(`files: removed ${swept} leftover(s) of an interrupted export from ${sink.location}`);

  const written: OwnedFile[] = [];
  let filesWritten = 0;
  let unchanged = 0;
  let converted = 0;
  let bytes = 0;
  const progress = reporter.progress('files', planned.length);
  try {
    // Read, convert and write up to 8 files at once: paths are distinct, and the time goes in
    // waiting on disks (a local write is fsynced) or the network.
    const exportOne = async (p: Planned) => {
      const file = p.sample.files.get(options.role)!;
      let out;
      try {
        const data = await readUri(file.uri);
        if (!p.target) out = { data, converted: false };
        else {
          const stored = await formatOf(data, file.format);
          if (stored === null) throw new Error(`${file.uri} is not a readable image`);
          out = await encodeAs(data, stored, p.target, { quality: options.quality, mask });
        }
      } catch (err) {
        return { p, error: errorMessage(err) };
      }
      // Failing to write is not the sample's fault: it stops the export. The sink leaves a file
      // that already holds these bytes untouched.
      const committed = await sink.put(p.path, out.data);
      return { p, xxh128: committed.xxh128, same: !committed.written, size: committed.size, converted: out.converted };
    };
    for await (const r of orderedMap(planned, exportOne, 8)) {
      if (ctx.signal?.aborted) throw new ImgsiftError('files: export interrupted');
      if ('error' in r) {
        warnSkip(r.p.sample.id, r.error!);
        progress.tick(1, 1);
        continue;
      }
      if (r.same) unchanged++;
      else {
        filesWritten++;
        bytes += r.size;
      }
      if (r.converted) converted++;
      written.push({ path: r.p.path, xxh128: r.xxh128, sample: r.p.sample.id });
      progress.tick();
    }
  } finally {
    progress.finish();
  }
  const removed = await commitOwned(sink, key, written, { format: 'files', role: options.role, template: options.path, run: ctx.runId });

  const stats: ExportStats = {
    [`files ${options.role}`]: written.length,
    'files written': filesWritten,
    'files unchanged': unchanged,
    'bytes written': bytes,
  };
  if (converted) stats['files converted'] = converted;
  if (removed) stats['stale files removed'] = removed;
  if (missing) stats[`samples without ${options.role}`] = missing;
  if (skipped) stats['samples skipped'] = skipped;
  return stats;
}
