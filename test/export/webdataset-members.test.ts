import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { extract } from 'tar-stream';
import { WebDatasetOptions, webdatasetExporter } from '../../src/export/webdataset.js';
import { buildCatalog } from '../helpers/export-catalog.js';

async function readTar(path: string): Promise<Array<{ name: string; data: Buffer }>> {
  const ex = extract();
  createReadStream(path).pipe(ex as unknown as NodeJS.WritableStream);
  const out: Array<{ name: string; data: Buffer }> = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, data: Buffer.concat(chunks) });
  }
  return out;
}

test('webdataset: role members keep their names, converting to the format the name asks for', async () => {
  const { ctx, images } = await buildCatalog();
  try {
    const out = join(ctx.workdir, 'members');
    const stats = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({
      to: out,
      samples_per_shard: 1000,
      fields: { 'input.jpg': { role: 'image', quality: 70 }, 'input.png': { role: 'image' }, 'mask.png': { role: 'mask' }, txt: 'text' },
    }));
    const index = JSON.parse(await readFile(join(out, 'train.index.json'), 'utf8'));
    const json = JSON.parse(await readFile(join(out, 'dev.index.json'), 'utf8'));
    assert.ok(index.shardlist.length === 1 && json.shardlist.length === 1);
    const byKey = new Map<string, Map<string, Buffer>>();
    for (const split of ['train', 'dev', 'test']) {
      for (const e of await readTar(join(out, `${split}/shard-000000.tar`))) {
        const dot = e.name.indexOf('.');
        const key = e.name.slice(0, dot);
        if (!byKey.has(key)) byKey.set(key, new Map());
        byKey.get(key)!.set(e.name.slice(dot + 1), e.data);
      }
    }
    const pngStored = [...images.values()].filter((b) => b[0] === 0x89);
    let copiedJpeg = 0;
    let convertedJpeg = 0;
    let masks = 0;
    for (const members of byKey.values()) {
      const jpg = members.get('input.jpg')!;
      const png = members.get('input.png')!;
      assert.equal((await sharp(jpg).metadata()).format, 'jpeg');
      assert.equal((await sharp(png).metadata()).format, 'png');
      // Stored JPEGs are copied byte for byte; stored PNGs become JPEG (and the reverse).
      if ([...images.values()].some((b) => b.equals(jpg))) copiedJpeg++;
      else convertedJpeg++;
      if (pngStored.some((b) => b.equals(png))) assert.equal(png[0], 0x89);
      const mask = members.get('mask.png');
      if (mask) {
        masks++;
        assert.equal((await sharp(mask).metadata()).format, 'png');
      }
      assert.ok(![...members.keys()].some((k) => k.endsWith('.webp')));
    }
    assert.equal(byKey.size, 46);
    assert.ok(copiedJpeg === 31 && convertedJpeg === 15, `${copiedJpeg} copied, ${convertedJpeg} converted`);
    assert.equal(masks, 23);
    // 15 PNGs to JPEG plus 31 JPEGs to PNG.
    assert.equal(stats['files re-encoded'], 46);
  } finally {
    ctx.catalog.close();
  }
});

test('webdataset: role members are checked: masks only as PNG, image extensions, known roles', async () => {
  const bad = (o: unknown) => {
    const r = WebDatasetOptions.safeParse(o);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(bad({ to: 'x', fields: { 'mask.jpg': { role: 'mask' } } }), /holds masks, which are written as lossless PNG/);
  assert.match(bad({ to: 'x', fields: { 'input.txt': { role: 'image' } } }), /must end in an image extension/);
  assert.match(bad({ to: 'x', fields: { 'input.jpg': { role: 'image', quality: 0 } } }), /quality|100|1/);
  const { ctx } = await buildCatalog();
  try {
    await assert.rejects(
      webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: join(ctx.workdir, 'y'), fields: { 'out.png': { role: 'output' } } })),
      /fields\.out\.png: role 'output' is not a file role of these samples \(image, mask\)/,
    );
  } finally {
    ctx.catalog.close();
  }
});
