import { z } from 'zod';
import { openImage } from '../image/open.js';
import { DEFAULT_MAX_PIXELS } from '../image/probe.js';
import { cropRect, parseBox } from '../image/crop-box.js';
import type { MapStep } from './types.js';

export const CropParams = z
  .object({
    /** The sample field holding the box (a dotted path into its metadata: `bbox`, `item.bounding_box`). */
    box: z.string().min(1).default('bbox'),
    /** `xyxy` (x1, y1, x2, y2: DeepFashion2, seed 001) or `xywh` (x, y, width, height: COCO). */
    box_format: z.enum(['xyxy', 'xywh']).default('xyxy'),
    /** Padding on each side, in percent of the box's size. */
    padding: z.number().min(0).max(100).default(0),
    /** Grow the box to a square around its centre. */
    square: z.boolean().default(false),
    /** Crops smaller than this on either side are not written (issue `crop_too_small`). */
    min_size: z.number().int().min(1).default(1),
    /** Encoding of the crop: jpg (default, as seed 001 writes them), png or webp. */
    format: z.enum(['jpg', 'png', 'webp']).default('jpg'),
    quality: z.number().int().min(1).max(100).default(95),
    /** The role the crop is registered as. */
    to: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/).default('crop'),
    /** Largest image (width × height) that will be decoded. */
    max_pixels: z.number().int().positive().default(DEFAULT_MAX_PIXELS),
  })
  .strict();
export type CropParams = z.infer<typeof CropParams>;

/**
 * `crop`: cut a sample's box out of its image into a new file (role `crop` by default), in the
 * stored pixel grid as PIL reads it (EXIF orientation not applied), padded, optionally squared,
 * clamped to the image. The box is part of the cache key, so the items of one photo get one crop each.
 */
export const cropStep: MapStep<CropParams> = {
  kind: 'map',
  name: 'crop',
  version: 1,
  description: 'cut a box field out of the image into a derived file (role crop)',
  params: CropParams,
  fields: (p) => [p.box],
  produces: (p) => [p.to],

  async run(input, p) {
    const box = parseBox(input.fields[p.box]);
    if (typeof box === 'string') throw new Error(`field '${p.box}': ${box}`);
    const image = openImage(input.bytes, { limitInputPixels: p.max_pixels, failOn: 'error' });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error('image size unknown');
    const rect = cropRect(box, meta.width, meta.height, { format: p.box_format, padding: p.padding, square: p.square });
    if (typeof rect === 'string') {
      return { result: { box, error: rect }, issues: [{ type: 'crop_out_of_image', score: 1, flagged: true, evidence: { box, reason: rect } }] };
    }
    const clamped = rect.left === 0 || rect.top === 0 || rect.left + rect.width === meta.width || rect.top + rect.height === meta.height;
    const result = { box, rect: [rect.left, rect.top, rect.left + rect.width, rect.top + rect.height], width: rect.width, height: rect.height, touches_border: clamped };
    if (rect.width < p.min_size || rect.height < p.min_size) {
      return { result, issues: [{ type: 'crop_too_small', score: 1, flagged: true, evidence: { width: rect.width, height: rect.height, min_size: p.min_size } }] };
    }
    let out = image.extract(rect);
    if (p.format === 'jpg') out = out.removeAlpha().jpeg({ quality: p.quality }); // as PIL's convert('RGB')
    else if (p.format === 'png') out = out.png();
    else out = out.webp({ quality: p.quality });
    const bytes = await out.toBuffer();
    return { result, files: [{ role: p.to, ext: p.format, bytes }] };
  },
};
