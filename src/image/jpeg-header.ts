/**
 * Size and EXIF orientation of a JPEG read from its markers, without a decoder: the downloader
 * needs them before decoding (bomb guard, resize plan) for nearly every body, and a libvips
 * header read costs a pipeline of its own. Anything unusual (no SOF before the scan, a marker
 * running past the end) returns null and the caller asks sharp.
 */

export interface JpegHeader {
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1 when there is none). */
  orientation: number;
}

/** SOF0-3, 5-7, 9-11, 13-15: frame headers carrying the image size (not DHT C4, JPG C8, DAC CC). */
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

export function jpegHeader(buf: Buffer): JpegHeader | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let orientation = 1;
  let p = 2;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return null;
    const m = buf[p + 1];
    if (m === 0xff) {
      p++; // fill byte
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2; // markers without a length
      continue;
    }
    const len = buf.readUInt16BE(p + 2);
    const end = p + 2 + len;
    if (len < 2 || end > buf.length) return null;
    if (m === 0xda || m === 0xd9) return null; // scan or end before any frame header
    if (isSof(m)) {
      if (len < 7) return null;
      const height = buf.readUInt16BE(p + 5);
      const width = buf.readUInt16BE(p + 7);
      return width > 0 && height > 0 ? { width, height, orientation } : null;
    }
    if (m === 0xe1 && orientation === 1) orientation = exifOrientation(buf.subarray(p + 4, end)) ?? 1;
    p = end;
  }
  return null;
}

/** Orientation tag (0x0112) of IFD0 in an APP1 segment's payload, if it is Exif and has one. */
function exifOrientation(app1: Buffer): number | undefined {
  if (app1.length < 14 || app1.toString('latin1', 0, 6) !== 'Exif\0\0') return undefined;
  const t = app1.subarray(6);
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return undefined;
  const u16 = (o: number) => (little ? t.readUInt16LE(o) : t.readUInt16BE(o));
  const u32 = (o: number) => (little ? t.readUInt32LE(o) : t.readUInt32BE(o));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return undefined;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return undefined;
    if (u16(e) !== 0x0112) continue;
    const v = u16(e + 8); // type SHORT, count 1: the value sits left-aligned in the offset field
    return v >= 1 && v <= 8 ? v : undefined;
  }
  return undefined;
}
