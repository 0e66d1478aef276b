import sharp, { type Sharp } from 'sharp';

/** A small seeded PRNG (mulberry32): the same seed gives the same images on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PhotoOptions {
  seed: number;
  width: number;
  height: number;
  /** Amount of sensor-like noise, 0..1 (default 0.35). */
  noise?: number;
}

/**
 * Raw RGB pixels of a photo-like scene: a sky/ground gradient, a sun, hills, and random objects
 * with shading, plus fine texture and noise, so hashes, blur and exposure metrics behave as on
 * real photographs (not flat colours). Deterministic in `seed`.
 */
export async function photoPixels(opts: PhotoOptions): Promise<{ data: Buffer; width: number; height: number }> {
  const { seed, width: w, height: h } = opts;
  const r = rng(seed);
  const hue = () => Math.floor(r() * 360);
  const col = (hh: number, s: number, l: number) => `hsl(${hh},${s}%,${l}%)`;
  const skyHue = 180 + r() * 60;
  const groundHue = 60 + r() * 80;
  const horizon = h * (0.35 + r() * 0.3);
  const parts: string[] = [];
  parts.push(`<defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${col(skyHue, 60, 35 + r() * 20)}"/><stop offset="1" stop-color="${col(skyHue + 20, 50, 70 + r() * 20)}"/></linearGradient>
    <linearGradient id="ground" x1="0" y1="0" x2="${r().toFixed(2)}" y2="1"><stop offset="0" stop-color="${col(groundHue, 45, 40)}"/><stop offset="1" stop-color="${col(groundHue + 30, 40, 15 + r() * 20)}"/></linearGradient>
    <radialGradient id="shade"><stop offset="0" stop-color="#fff" stop-opacity="0.55"/><stop offset="1" stop-color="#000" stop-opacity="0.35"/></radialGradient>
  </defs>`);
  parts.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  parts.push(`<circle cx="${(r() * w).toFixed(1)}" cy="${(r() * horizon * 0.6).toFixed(1)}" r="${(Math.min(w, h) * (0.04 + r() * 0.06)).toFixed(1)}" fill="${col(45 + r() * 15, 90, 75)}"/>`);
  // Hills: a jagged polygon along the horizon.
  const pts: string[] = [`0,${h}`];
  const steps = 8 + Math.floor(r() * 10);
  for (let i = 0; i <= steps; i++) pts.push(`${((i / steps) * w).toFixed(1)},${(horizon + (r() - 0.5) * h * 0.25).toFixed(1)}`);
  pts.push(`${w},${h}`);
  parts.push(`<polygon points="${pts.join(' ')}" fill="url(#ground)"/>`);
  const objects = 6 + Math.floor(r() * 14);
  for (let i = 0; i < objects; i++) {
    const x = r() * w, y = r() * h, s = Math.min(w, h) * (0.03 + r() * 0.22);
    const fill = col(hue(), 30 + r() * 60, 20 + r() * 60);
    const op = (0.6 + r() * 0.4).toFixed(2);
    const kind = r();
    if (kind < 0.4) {
      parts.push(`<ellipse cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" rx="${s.toFixed(1)}" ry="${(s * (0.4 + r())).toFixed(1)}" fill="${fill}" opacity="${op}"/>`);
      parts.push(`<ellipse cx="${(x - s * 0.2).toFixed(1)}" cy="${(y - s * 0.2).toFixed(1)}" rx="${(s * 0.7).toFixed(1)}" ry="${(s * 0.5).toFixed(1)}" fill="url(#shade)" opacity="0.5"/>`);
    } else if (kind < 0.75) {
      const rot = (r() * 90 - 45).toFixed(1);
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${s.toFixed(1)}" height="${(s * (0.5 + r() * 1.5)).toFixed(1)}" fill="${fill}" opacity="${op}" transform="rotate(${rot} ${x.toFixed(1)} ${y.toFixed(1)})"/>`);
    } else {
      const n = 3 + Math.floor(r() * 4);
      const poly: string[] = [];
      for (let k = 0; k < n; k++) {
        const a = (k / n) * Math.PI * 2 + r() * 0.5;
        poly.push(`${(x + Math.cos(a) * s).toFixed(1)},${(y + Math.sin(a) * s).toFixed(1)}`);
      }
      parts.push(`<polygon points="${poly.join(' ')}" fill="${fill}" opacity="${op}"/>`);
    }
  }
  // Thin lines: branches, wires, edges that give the image high-frequency structure.
  const lines = 5 + Math.floor(r() * 20);
  for (let i = 0; i < lines; i++) {
    parts.push(`<line x1="${(r() * w).toFixed(1)}" y1="${(r() * h).toFixed(1)}" x2="${(r() * w).toFixed(1)}" y2="${(r() * h).toFixed(1)}" stroke="${col(hue(), 20, 10 + r() * 70)}" stroke-width="${(1 + r() * 3).toFixed(1)}" opacity="0.8"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // Texture and sensor noise: low-frequency brightness variation plus per-pixel noise.
  const amp = (opts.noise ?? 0.35) * 40;
  const fx = 2 + r() * 6, fy = 2 + r() * 6, ph = r() * 6.28;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += 3) {
      const tex = Math.sin((x / w) * fx * 6.28 + ph) * Math.cos((y / h) * fy * 6.28) * amp * 0.5;
      for (let c = 0; c < 3; c++) {
        const v = data[i + c] + tex + (r() - 0.5) * amp;
        data[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { data, width: w, height: h };
}

/** A photo-like image as a sharp pipeline, ready to be transformed and encoded. */
export async function photo(opts: PhotoOptions): Promise<Sharp> {
  const { data, width, height } = await photoPixels(opts);
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** A photo-like JPEG. */
export async function photoJpeg(opts: PhotoOptions & { quality?: number }): Promise<Buffer> {
  return (await photo(opts)).jpeg({ quality: opts.quality ?? 90 }).toBuffer();
}

/** A photo-like PNG. */
export async function photoPng(opts: PhotoOptions): Promise<Buffer> {
  return (await photo(opts)).png().toBuffer();
}
