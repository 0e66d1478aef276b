import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InputError, errorMessage } from '../errors.js';
import { tarMemberUri } from '../util/uri.js';
import { bounded } from './bounded.js';
import { listInputFiles } from './listing.js';
import { TarFormatError, WindowReader, tarMembers, type TarMember } from './tar-index.js';
import type { FieldMap, ReadOptions, Source, SourceRecord } from './types.js';

export interface WebDatasetSourceOptions {
  /** A .tar, a folder of .tar files, or a pattern (`shard-{000..009}.tar`, `*.tar`). */
  path: string;
  fields: FieldMap;
  /** Lower-case image extensions without the dot. */
  extensions: readonly string[];
}

/** Text members are read when their name says text; anything larger is not a caption. */
const MAX_TEXT_MEMBER = 1 << 20;

/** Member extensions tried, in order, when `fields` does not name one. */
const DEFAULT_TEXT = ['txt', 'caption', 'text', 'text.txt'];
const DEFAULT_LABEL = ['cls', 'label', 'cls.txt'];

/**
 * The webdataset rule: a member's key is its path up to the first dot of its base name, the
 * extension the rest (lower-cased). `a/b/001.seg.png` → key `a/b/001`, extension `seg.png`.
 * Names without such a dot (and hidden names) belong to no sample.
 */
export function splitMemberName(name: string): { key: string; ext: string } | null {
  const m = /^((?:.*\/|)[^./][^./]*)\.([^/]*)$/.exec(name);
  return m ? { key: m[1], ext: m[2].toLowerCase() } : null;
}

interface Member extends TarMember {
  ext: string;
}

interface Sample {
  key: string;
  members: Member[];
}

const lastExt = (ext: string) => ext.slice(ext.lastIndexOf('.') + 1);
const isTextExt = (ext: string) => ['txt', 'cls', 'caption', 'text', 'label', 'json'].includes(lastExt(ext));

/**
 * WebDataset shards: consecutive tar members sharing a key form one sample. Only headers and small
 * text members (`.txt`, `.cls`, `.json`, ...) are read; images are located, as
 * `tar:<shard>#<offset>+<size>`, and read later by the steps that need them.
 *
 * - image: the member named by `fields.image` (an extension such as `jpg` or `input.jpg`), else
 *   the first member whose extension is an image extension;
 * - text: `fields.text` or `txt` / `caption`; label: `fields.label` or `cls`; a mapped name that is
 *   no member's extension is looked up in the sample's `.json`;
 * - `fields.files` maps further roles to member extensions (`{ mask: mask.png }`);
 * - `.json` members become meta (merged), other unmapped text members `meta[ext]`.
 *
 * A damaged tar is reported (path and byte offset) and the next shard is read.
 */
export class WebDatasetSource implements Source {
  readonly description: string;
  constructor(private readonly opts: WebDatasetSourceOptions) {
    this.description = `webdataset ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    for (const tar of await listInputFiles(this.opts.path, ['.tar'])) yield* this.readShard(resolve(tar), options);
  }

  private async *readShard(tar: string, options: ReadOptions): AsyncGenerator<SourceRecord> {
    let fh;
    try {
      fh = await open(tar, 'r');
    } catch (err) {
      options.onBadRow(new InputError({ file: tar }, `cannot open shard: ${errorMessage(err)}`));
      return;
    }
    try {
      const size = (await fh.stat()).size;
      const reader = new WindowReader(fh);
      let current: Sample | null = null;
      const finish = async (s: Sample) => {
        const r = await this.toRecord(tar, s, reader);
        if (r instanceof InputError) options.onBadRow(r);
        return r instanceof InputError ? null : r;
      };
      try {
        for await (const m of tarMembers(reader, size)) {
          const parts = splitMemberName(m.name);
          if (!parts) continue;
          if (current && current.key === parts.key) {
            if (current.members.some((x) => x.ext === parts.ext)) {
              options.onBadRow(new InputError({ file: tar, field: m.name }, `duplicate member '${parts.ext}' in sample '${parts.key}' (byte ${m.headerOffset}); kept the first`));
              continue;
            }
            current.members.push({ ...m, ext: parts.ext });
            continue;
          }
          if (current) {
            const r = await finish(current);
            if (r) yield r;
          }
          current = { key: parts.key, members: [{ ...m, ext: parts.ext }] };
        }
      } catch (err) {
        if (!(err instanceof TarFormatError)) throw err;
        options.onBadRow(
          new InputError({ file: tar }, `damaged tar at byte ${err.offset}: ${err.message}; the rest of this shard is skipped`),
        );
      }
      if (current) {
        const r = await finish(current);
        if (r) yield r;
      }
    } finally {
      await fh.close();
    }
  }

  private async toRecord(tar: string, s: Sample, reader: WindowReader): Promise<SourceRecord | InputError> {
    const { fields, extensions } = this.opts;
    const bad = (problem: string, field?: string) =>
      new InputError({ file: tar, field: field ?? `${s.key}.*` }, `sample '${s.key}' (byte ${s.members[0].headerOffset}): ${problem}`);
    const byExt = new Map(s.members.map((m) => [m.ext, m]));
    const names = () => s.members.map((m) => m.ext).join(', ');

    const image = fields.image !== undefined
      ? byExt.get(fields.image.toLowerCase())
      : s.members.find((m) => extensions.includes(lastExt(m.ext)));
    if (!image) {
      return bad(fields.image !== undefined ? `no '${fields.image}' member (members: ${names()})` : `no image member (members: ${names()})`);
    }
    const files: Record<string, string> = { image: tarMemberUri(tar, image.dataOffset, image.size) };
    for (const [role, ext] of Object.entries(fields.files ?? {})) {
      const m = byExt.get(ext.toLowerCase());
      if (!m) return bad(`no '${ext}' member for '${role}' (members: ${names()})`, role);
      files[role] = tarMemberUri(tar, m.dataOffset, m.size);
    }

    // Small text members, read now: they are the sample's caption, label and metadata.
    const texts = new Map<string, string>();
    let meta: Record<string, unknown> | undefined;
    for (const m of s.members) {
      if (m === image || !isTextExt(m.ext) || m.size > MAX_TEXT_MEMBER) continue;
      const text = (await reader.read(m.dataOffset, m.size)).toString('utf8');
      if (lastExt(m.ext) === 'json') {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          return bad(`member '${m.name}' is not valid JSON: ${errorMessage(err)}`, m.name);
        }
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) meta = { ...meta, ...(value as object) };
        else (meta ??= {})[m.ext] = value;
      } else {
        texts.set(m.ext, text);
      }
    }

    const pick = (mapped: string | undefined, defaults: readonly string[]): string | undefined => {
      for (const ext of mapped !== undefined ? [mapped.toLowerCase()] : defaults) {
        const t = texts.get(ext);
        if (t !== undefined) {
          texts.delete(ext);
          return t.trim() === '' ? undefined : t.replace(/\r?\n$/, '');
        }
      }
      if (mapped !== undefined && meta && mapped in meta) {
        const v = meta[mapped];
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
      }
      return undefined;
    };

    const imageExt = lastExt(image.ext);
    const record: SourceRecord = {
      id: pick(fields.id, []) ?? s.key,
      files,
      path: `${s.key}.${imageExt}`,
      ref: `${basename(tar)}:${s.key}`,
    };
    const text = pick(fields.text, DEFAULT_TEXT);
    if (text !== undefined) record.text = text;
    const label = pick(fields.label, DEFAULT_LABEL);
    if (label !== undefined) record.label = label.trim();
    const group = pick(fields.group, []);
    if (group !== undefined) record.group = group.trim();
    const split = pick(fields.split, []);
    if (split !== undefined) record.split = split.trim();
    for (const [ext, t] of texts) (meta ??= {})[ext] = t;
    if (meta) record.meta = meta;
    return record;
  }
}
