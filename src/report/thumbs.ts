import { openImage } from '../image/open.js';
import { readUri } from '../util/uri.js';

/** Longest side of a report thumbnail, in pixels. */
export const THUMB_SIDE = 96;

/** Pixels a report thumbnail decodes at most (lower still under a run's own `max_pixels`). */
const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Small WebP thumbnails as data: URIs, so the report is one file that opens offline. An image
 * that cannot be read or decoded gets null (the report draws a placeholder): the report is about
 * broken images too. `maxPixels`: the run's pixel limit, when it recorded one.
 */
export async function thumbnails(uris: ReadonlyArray<string | null>, maxPixels?: number, concurrency = 4): Promise<Map<string, string | null>> {
  const todo = [...new Set(uris.filter((u): u is string => !!u))];
  const out = new Map<string, string | null>();
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const uri = todo[next++];
      out.set(uri, await thumbnail(uri, maxPixels));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  return out;
}

export async function thumbnail(uri: string, maxPixels = MAX_INPUT_PIXELS): Promise<string | null> {
  try {
    const bytes = await readUri(uri);
    const limit = Math.min(maxPixels, MAX_INPUT_PIXELS);
    const webp = await openImage(bytes, { failOn: 'none', limitInputPixels: limit, animated: false })
      .rotate()
      .resize(THUMB_SIDE, THUMB_SIDE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 60 })
      .toBuffer();
    return `data:image/webp;base64,${webp.toString('base64')}`;
  } catch {
    return null;
  }
}
