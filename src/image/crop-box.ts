/**
 * Crop boxes as annotation sets give them, turned into a pixel rectangle of the stored image (the
 * grid PIL reads: EXIF orientation is not applied, as seed 001's `Image.open(...).crop(bbox)`).
 */

export type BoxFormat = 'xyxy' | 'xywh';

export interface CropRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface CropOptions {
  format: BoxFormat;
  /** Padding added on each side, in percent of the box's width (left/right) and height (top/bottom). */
  padding: number;
  /** Grow the shorter side to make a square around the box's centre (before clamping). */
  square: boolean;
}

/** Python's round(): halves go to the even neighbour (PIL rounds crop boxes so). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Read a box value: four finite numbers. */
export function parseBox(value: unknown): [number, number, number, number] | string {
  if (!Array.isArray(value) || value.length !== 4) return `expected a box of four numbers, found ${JSON.stringify(value)?.slice(0, 60)}`;
  const nums = value.map((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v));
  if (!nums.every((v) => typeof v === 'number' && Number.isFinite(v))) return `expected a box of four numbers, found ${JSON.stringify(value).slice(0, 60)}`;
  return nums as [number, number, number, number];
}

/**
 * The rectangle to extract, clamped to the image; a string says why there is none (an empty or
 * inverted box, or one entirely outside the image).
 */
export function cropRect(box: [number, number, number, number], imageWidth: number, imageHeight: number, o: CropOptions): CropRect | string {
  let [x1, y1, x2, y2] = box;
  if (o.format === 'xywh') {
    x2 = x1 + box[2];
    y2 = y1 + box[3];
  }
  if (!(x2 > x1 && y2 > y1)) return `empty or inverted box ${JSON.stringify(box)} (${o.format})`;
  if (o.padding > 0) {
    const px = ((x2 - x1) * o.padding) / 100;
    const py = ((y2 - y1) * o.padding) / 100;
    x1 -= px;
    x2 += px;
    y1 -= py;
    y2 += py;
  }
  if (o.square) {
    const side = Math.max(x2 - x1, y2 - y1);
    const cx = (x1 + x2) / 2;
    const cy = (y1 + y2) / 2;
    x1 = cx - side / 2;
    x2 = cx + side / 2;
    y1 = cy - side / 2;
    y2 = cy + side / 2;
    // A square that leaves the image slides back inside where the image is large enough.
    if (side <= imageWidth) {
      if (x1 < 0) [x1, x2] = [0, side];
      if (x2 > imageWidth) [x1, x2] = [imageWidth - side, imageWidth];
    }
    if (side <= imageHeight) {
      if (y1 < 0) [y1, y2] = [0, side];
      if (y2 > imageHeight) [y1, y2] = [imageHeight - side, imageHeight];
    }
  }
  const left = Math.max(0, Math.min(imageWidth, roundHalfEven(x1)));
  const top = Math.max(0, Math.min(imageHeight, roundHalfEven(y1)));
  const right = Math.max(0, Math.min(imageWidth, roundHalfEven(x2)));
  const bottom = Math.max(0, Math.min(imageHeight, roundHalfEven(y2)));
  if (right <= left || bottom <= top) return `box ${JSON.stringify(box)} lies outside the ${imageWidth}x${imageHeight} image`;
  return { left, top, width: right - left, height: bottom - top };
}
