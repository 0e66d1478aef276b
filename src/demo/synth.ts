import sharp from '../image/sharp.js';
import type { Sharp } from 'sharp';

import { rng } from '../util/random.js';

/** The seeded PRNG the synthetic images use (re-exported for callers of this module). */
export { rng };

/**
 * Visually distinct scene classes. Each has its own palette and layout, so colour statistics,
 * embeddings and classifiers can tell them apart (the demo uses them as labels).
 */
export const SCENE_KINDS = ['beach', 'forest', 'night', 'city', 'snow'] as const;
export type SceneKind = (typeof SCENE_KINDS)[number];

export interface PhotoOptions {
  seed: number;
  width: number;
  height: number;
  /** Amount of sensor-like noise, 0..1 (default 0.35). */
  noise?: number;
  /** Scene class; without it, a generic landscape with random objects. */
  kind?: SceneKind;
}

/** What a scene shows, in words: enough to write a caption that matches the picture. */
export interface SceneInfo {
  kind: SceneKind | 'generic';
  /** Short noun phrases for visible content, e.g. "three beach umbrellas", "a crescent moon". */
  details: string[];
}

type Rand = () => number;

const col = (hh: number, s: number, l: number) => `hsl(${hh.toFixed(0)},${s.toFixed(0)}%,${l.toFixed(0)}%)`;
const f = (v: number) => v.toFixed(1);
const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
/** "three pine trees" / "a pine tree" / "many pine trees". */
function counted(n: number, one: string, many: string): string {
  if (n === 1) return `a ${one}`;
  return `${NUMBER_WORDS[n] ?? 'many'} ${many}`;
}

/** Vertical two-stop gradient definition. */
const vgrad = (id: string, top: string, bottom: string) =>
  `<linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${top}"/><stop offset="1" stop-color="${bottom}"/></linearGradient>`;

/** A jagged ridge from the left edge to the right edge around height `y`, closed at the bottom. */
function ridge(r: Rand, w: number, h: number, y: number, jag: number, steps: number): string {
  const pts: string[] = [`0,${h}`];
  for (let i = 0; i <= steps; i++) pts.push(`${f((i / steps) * w)},${f(y + (r() - 0.5) * jag)}`);
  pts.push(`${w},${h}`);
  return pts.join(' ');
}

/** The original generic scene: sky/ground gradient, sun, hills, random shaded objects and lines. */
function genericScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const hue = () => Math.floor(r() * 360);
  const skyHue = 180 + r() * 60;
  const groundHue = 60 + r() * 80;
  const horizon = h * (0.35 + r() * 0.3);
  const parts: string[] = [];
  parts.push(`<defs>
    ${vgrad('sky', col(skyHue, 60, 35 + r() * 20), col(skyHue + 20, 50, 70 + r() * 20))}
    <linearGradient id="ground" x1="0" y1="0" x2="${r().toFixed(2)}" y2="1"><stop offset="0" stop-color="${col(groundHue, 45, 40)}"/><stop offset="1" stop-color="${col(groundHue + 30, 40, 15 + r() * 20)}"/></linearGradient>
    <radialGradient id="shade"><stop offset="0" stop-color="#fff" stop-opacity="0.55"/><stop offset="1" stop-color="#000" stop-opacity="0.35"/></radialGradient>
  </defs>`);
  parts.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  parts.push(`<circle cx="${f(r() * w)}" cy="${f(r() * horizon * 0.6)}" r="${f(Math.min(w, h) * (0.04 + r() * 0.06))}" fill="${col(45 + r() * 15, 90, 75)}"/>`);
  parts.push(`<polygon points="${ridge(r, w, h, horizon, h * 0.25, 8 + Math.floor(r() * 10))}" fill="url(#ground)"/>`);
  const objects = 6 + Math.floor(r() * 14);
  for (let i = 0; i < objects; i++) {
    const x = r() * w, y = r() * h, s = Math.min(w, h) * (0.03 + r() * 0.22);
    const fill = col(hue(), 30 + r() * 60, 20 + r() * 60);
    const op = (0.6 + r() * 0.4).toFixed(2);
    const kind = r();
    if (kind < 0.4) {
      parts.push(`<ellipse cx="${f(x)}" cy="${f(y)}" rx="${f(s)}" ry="${f(s * (0.4 + r()))}" fill="${fill}" opacity="${op}"/>`);
      parts.push(`<ellipse cx="${f(x - s * 0.2)}" cy="${f(y - s * 0.2)}" rx="${f(s * 0.7)}" ry="${f(s * 0.5)}" fill="url(#shade)" opacity="0.5"/>`);
    } else if (kind < 0.75) {
      const rot = (r() * 90 - 45).toFixed(1);
      parts.push(`<rect x="${f(x)}" y="${f(y)}" width="${f(s)}" height="${f(s * (0.5 + r() * 1.5))}" fill="${fill}" opacity="${op}" transform="rotate(${rot} ${f(x)} ${f(y)})"/>`);
    } else {
      const n = 3 + Math.floor(r() * 4);
      const poly: string[] = [];
      for (let k = 0; k < n; k++) {
        const a = (k / n) * Math.PI * 2 + r() * 0.5;
        poly.push(`${f(x + Math.cos(a) * s)},${f(y + Math.sin(a) * s)}`);
      }
      parts.push(`<polygon points="${poly.join(' ')}" fill="${fill}" opacity="${op}"/>`);
    }
  }
  // Thin lines: branches, wires, edges that give the image high-frequency structure.
  const lines = 5 + Math.floor(r() * 20);
  for (let i = 0; i < lines; i++) {
    parts.push(`<line x1="${f(r() * w)}" y1="${f(r() * h)}" x2="${f(r() * w)}" y2="${f(r() * h)}" stroke="${col(hue(), 20, 10 + r() * 70)}" stroke-width="${(1 + r() * 3).toFixed(1)}" opacity="0.8"/>`);
  }
  return { body: parts.join(''), details: ['rolling hills', counted(objects, 'shape', 'colourful shapes'), 'the sun'] };
}

/** Blue sea over pale sand under a bright sky, with umbrellas, towels and sometimes a palm. */
function beachScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const m = Math.min(w, h);
  const horizon = h * (0.3 + r() * 0.15);
  const shore = horizon + h * (0.12 + r() * 0.15);
  const seaHue = 190 + r() * 25, sandHue = 38 + r() * 12;
  const p: string[] = [];
  p.push(`<defs>${vgrad('sky', col(205 + r() * 10, 70, 55 + r() * 10), col(195, 60, 85 + r() * 8))}${vgrad('sea', col(seaHue + 10, 65, 30 + r() * 10), col(seaHue - 10, 60, 50 + r() * 10))}${vgrad('sand', col(sandHue, 45, 78), col(sandHue - 5, 40, 62 + r() * 8))}</defs>`);
  p.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  const sun = r() < 0.7;
  if (sun) p.push(`<circle cx="${f(r() * w)}" cy="${f(horizon * (0.2 + r() * 0.4))}" r="${f(m * (0.04 + r() * 0.04))}" fill="${col(50, 95, 88)}"/>`);
  p.push(`<rect y="${f(horizon)}" width="${w}" height="${f(h - horizon)}" fill="url(#sea)"/>`);
  const waves = 6 + Math.floor(r() * 10);
  for (let i = 0; i < waves; i++) {
    const y = horizon + (shore - horizon) * r(), x = r() * w, len = w * (0.05 + r() * 0.2);
    p.push(`<line x1="${f(x)}" y1="${f(y)}" x2="${f(x + len)}" y2="${f(y + (r() - 0.5) * 4)}" stroke="${col(190, 40, 88)}" stroke-width="${(1 + r() * 2).toFixed(1)}" opacity="0.7"/>`);
  }
  p.push(`<polygon points="${ridge(r, w, h, shore, h * 0.05, 6)}" fill="url(#sand)"/>`);
  const details = ['white sand', r() < 0.5 ? 'calm blue water' : 'gentle waves'];
  if (sun) details.push('a bright sun');
  const umbrellas = Math.floor(r() * 5);
  for (let i = 0; i < umbrellas; i++) {
    const x = r() * w, y = shore + (h - shore) * (0.2 + r() * 0.6), s = m * (0.06 + r() * 0.07);
    p.push(`<line x1="${f(x)}" y1="${f(y)}" x2="${f(x)}" y2="${f(y - s * 1.3)}" stroke="#553" stroke-width="${f(Math.max(1.5, s * 0.06))}"/>`);
    p.push(`<path d="M ${f(x - s)} ${f(y - s * 1.2)} Q ${f(x)} ${f(y - s * 2.2)} ${f(x + s)} ${f(y - s * 1.2)} Z" fill="${col(r() * 360, 75, 50)}"/>`);
  }
  if (umbrellas > 0) details.push(counted(umbrellas, 'beach umbrella', 'beach umbrellas'));
  const towels = Math.floor(r() * 4);
  for (let i = 0; i < towels; i++) {
    const x = r() * w, y = shore + (h - shore) * (0.3 + r() * 0.6), s = m * (0.05 + r() * 0.05);
    p.push(`<rect x="${f(x)}" y="${f(y)}" width="${f(s * 1.8)}" height="${f(s)}" fill="${col(r() * 360, 70, 55)}" transform="rotate(${f(r() * 30 - 15)} ${f(x)} ${f(y)})"/>`);
  }
  if (towels > 0) details.push(counted(towels, 'towel', 'towels'));
  if (r() < 0.4) {
    const x = r() * w, base = h * (0.85 + r() * 0.1), top = horizon * (0.4 + r() * 0.5);
    p.push(`<path d="M ${f(x)} ${f(base)} Q ${f(x + w * 0.05)} ${f((base + top) / 2)} ${f(x + w * 0.02)} ${f(top)}" stroke="${col(30, 40, 25)}" stroke-width="${f(m * 0.02)}" fill="none"/>`);
    for (let k = 0; k < 6; k++) {
      const a = (k / 6) * Math.PI * 2;
      p.push(`<ellipse cx="${f(x + w * 0.02 + Math.cos(a) * m * 0.07)}" cy="${f(top + Math.sin(a) * m * 0.03)}" rx="${f(m * 0.08)}" ry="${f(m * 0.018)}" fill="${col(110, 45, 25)}" transform="rotate(${f((a * 180) / Math.PI)} ${f(x + w * 0.02)} ${f(top)})"/>`);
    }
    details.push('a palm tree');
  }
  return { body: p.join(''), details };
}

/** Dense greens and browns: trunks, layered foliage and branches, little sky. */
function forestScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const m = Math.min(w, h);
  const green = 90 + r() * 40;
  const p: string[] = [];
  p.push(`<defs>${vgrad('sky', col(green + 40, 25, 70 + r() * 15), col(green, 35, 45))}${vgrad('floor', col(green - 20, 35, 28), col(30, 35, 12 + r() * 8))}</defs>`);
  p.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  p.push(`<polygon points="${ridge(r, w, h, h * (0.6 + r() * 0.15), h * 0.08, 10)}" fill="url(#floor)"/>`);
  const trunks = 5 + Math.floor(r() * 8);
  for (let i = 0; i < trunks; i++) {
    const x = r() * w, tw = m * (0.02 + r() * 0.05), top = -h * 0.1, bottom = h * (0.7 + r() * 0.3);
    p.push(`<rect x="${f(x)}" y="${f(top)}" width="${f(tw)}" height="${f(bottom - top)}" fill="${col(22 + r() * 15, 35, 12 + r() * 18)}"/>`);
  }
  const leaves = 25 + Math.floor(r() * 25);
  for (let i = 0; i < leaves; i++) {
    const x = r() * w, y = r() * h * 0.65, s = m * (0.05 + r() * 0.15);
    p.push(`<ellipse cx="${f(x)}" cy="${f(y)}" rx="${f(s)}" ry="${f(s * (0.5 + r() * 0.5))}" fill="${col(green + (r() - 0.5) * 40, 40 + r() * 30, 15 + r() * 30)}" opacity="${(0.6 + r() * 0.4).toFixed(2)}"/>`);
  }
  const branches = 10 + Math.floor(r() * 20);
  for (let i = 0; i < branches; i++) {
    const x = r() * w, y = r() * h;
    p.push(`<line x1="${f(x)}" y1="${f(y)}" x2="${f(x + (r() - 0.5) * w * 0.3)}" y2="${f(y + (r() - 0.5) * h * 0.2)}" stroke="${col(28, 30, 10 + r() * 20)}" stroke-width="${(1 + r() * 3).toFixed(1)}" opacity="0.85"/>`);
  }
  const details = [counted(trunks, 'tall tree trunk', 'tall tree trunks'), 'dense green foliage'];
  if (r() < 0.5) {
    const cx = w * (0.3 + r() * 0.4);
    p.push(`<polygon points="${f(cx - w * 0.02)},${f(h * 0.7)} ${f(cx + w * 0.02)},${f(h * 0.7)} ${f(cx + w * 0.2)},${h} ${f(cx - w * 0.2)},${h}" fill="${col(35, 30, 35 + r() * 10)}" opacity="0.9"/>`);
    details.push('a narrow dirt path');
  }
  if (r() < 0.4) {
    const x = r() * w;
    p.push(`<polygon points="${f(x)},0 ${f(x + w * 0.08)},0 ${f(x + w * 0.3)},${h} ${f(x + w * 0.15)},${h}" fill="${col(60, 90, 85)}" opacity="0.25"/>`);
    details.push('sunlight through the leaves');
  }
  return { body: p.join(''), details };
}

/** Dark navy sky with stars and a moon over a black skyline or hills, a few lit windows. */
function nightScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const m = Math.min(w, h);
  const horizon = h * (0.55 + r() * 0.2);
  const p: string[] = [];
  p.push(`<defs>${vgrad('sky', col(230 + r() * 15, 50, 16 + r() * 8), col(220, 45, 42 + r() * 10))}</defs>`);
  p.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  const stars = 40 + Math.floor(r() * 80);
  for (let i = 0; i < stars; i++) {
    p.push(`<circle cx="${f(r() * w)}" cy="${f(r() * horizon)}" r="${(0.5 + r() * 1.3).toFixed(2)}" fill="${col(55, 30, 85 + r() * 15)}"/>`);
  }
  const mx = r() * w, my = horizon * (0.15 + r() * 0.4), mr = m * (0.04 + r() * 0.05);
  const crescent = r() < 0.5;
  p.push(`<circle cx="${f(mx)}" cy="${f(my)}" r="${f(mr)}" fill="${col(50, 40, 88)}"/>`);
  if (crescent) p.push(`<circle cx="${f(mx + mr * 0.45)}" cy="${f(my - mr * 0.15)}" r="${f(mr * 0.9)}" fill="${col(232, 50, 20 + (my / horizon) * 20)}"/>`);
  const details = [crescent ? 'a crescent moon' : 'a full moon', 'a starry sky'];
  if (r() < 0.5) {
    // Skyline silhouette with a few lit windows.
    let x = 0, lit = 0;
    while (x < w) {
      const bw = w * (0.05 + r() * 0.1), bh = (h - horizon) + h * (0.05 + r() * 0.25);
      p.push(`<rect x="${f(x)}" y="${f(h - bh)}" width="${f(bw + 1)}" height="${f(bh)}" fill="${col(230, 20, 12 + r() * 8)}"/>`);
      const windows = Math.floor(r() * 6);
      for (let k = 0; k < windows; k++) {
        p.push(`<rect x="${f(x + r() * bw * 0.8)}" y="${f(h - bh + r() * bh * 0.9)}" width="${f(m * 0.012)}" height="${f(m * 0.018)}" fill="${col(45, 90, 60 + r() * 20)}"/>`);
      }
      lit += windows;
      x += bw;
    }
    details.push('a dark city skyline');
    if (lit > 0) details.push('a few lit windows');
  } else {
    p.push(`<polygon points="${ridge(r, w, h, horizon, h * 0.15, 9)}" fill="${col(225, 25, 14 + r() * 8)}"/>`);
    details.push('black hills');
  }
  return { body: p.join(''), details };
}

/** Overcast sky, blocks of grey and brown buildings with window grids, and a road. */
function cityScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const m = Math.min(w, h);
  const street = h * (0.75 + r() * 0.12);
  const overcast = r() < 0.5;
  const p: string[] = [];
  p.push(`<defs>${vgrad('sky', col(210, overcast ? 8 : 45, overcast ? 68 : 62), col(205, overcast ? 6 : 35, overcast ? 80 : 82))}</defs>`);
  p.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  const buildings = 6 + Math.floor(r() * 8);
  let tall = 0;
  for (let i = 0; i < buildings; i++) {
    const bw = w * (0.08 + r() * 0.16), x = r() * (w - bw * 0.5) - bw * 0.25, bh = h * (0.3 + r() * 0.6), y = street - bh;
    if (bh > h * 0.65) tall++;
    p.push(`<rect x="${f(x)}" y="${f(y)}" width="${f(bw)}" height="${f(bh)}" fill="${col(r() < 0.5 ? 25 : 215, 5 + r() * 15, 25 + r() * 35)}"/>`);
    // Window grid, capped so large images stay cheap to render.
    const cols = Math.min(6, Math.max(1, Math.floor(bw / (m * 0.04)))), rows = Math.min(10, Math.max(1, Math.floor(bh / (m * 0.06))));
    const win = col(200 + r() * 30, 20, 70 + r() * 15);
    for (let cx = 0; cx < cols; cx++) {
      for (let cy = 0; cy < rows; cy++) {
        p.push(`<rect x="${f(x + ((cx + 0.25) / cols) * bw)}" y="${f(y + ((cy + 0.3) / rows) * bh)}" width="${f((bw / cols) * 0.5)}" height="${f((bh / rows) * 0.4)}" fill="${win}"/>`);
      }
    }
  }
  p.push(`<rect y="${f(street)}" width="${w}" height="${f(h - street)}" fill="${col(0, 0, 22 + r() * 8)}"/>`);
  const my = street + (h - street) * 0.5;
  for (let x = r() * 30; x < w; x += m * 0.12) {
    p.push(`<rect x="${f(x)}" y="${f(my - 1.5)}" width="${f(m * 0.06)}" height="3" fill="#ddd"/>`);
  }
  const cars = Math.floor(r() * 4);
  for (let i = 0; i < cars; i++) {
    const x = r() * w, cw = m * (0.1 + r() * 0.05);
    p.push(`<rect x="${f(x)}" y="${f(street + (h - street) * 0.15)}" width="${f(cw)}" height="${f(cw * 0.4)}" rx="${f(cw * 0.1)}" fill="${col(r() * 360, 60, 40)}"/>`);
  }
  const wires = 3 + Math.floor(r() * 6);
  for (let i = 0; i < wires; i++) {
    p.push(`<line x1="0" y1="${f(r() * street)}" x2="${w}" y2="${f(r() * street)}" stroke="#222" stroke-width="1" opacity="0.6"/>`);
  }
  const details = [tall > 0 ? counted(tall, 'tall tower', 'tall towers') : 'low buildings', 'a city street'];
  if (cars > 0) details.push(counted(cars, 'parked car', 'parked cars'));
  details.push(overcast ? 'an overcast sky' : 'a clear sky');
  return { body: p.join(''), details };
}

/** Nearly white ground and pale sky, grey mountains and dark pine trees. */
function snowScene(r: Rand, w: number, h: number): { body: string; details: string[] } {
  const m = Math.min(w, h);
  const horizon = h * (0.4 + r() * 0.2);
  const p: string[] = [];
  p.push(`<defs>${vgrad('sky', col(205 + r() * 15, 25 + r() * 20, 72 + r() * 10), col(210, 20, 90))}${vgrad('snow', col(205, 25, 96), col(210, 30, 82 + r() * 6))}</defs>`);
  p.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  const mountains = r() < 0.7;
  if (mountains) {
    const peaks = 2 + Math.floor(r() * 3);
    for (let i = 0; i < peaks; i++) {
      const cx = r() * w, pw = w * (0.2 + r() * 0.3), ph = horizon * (0.3 + r() * 0.5);
      p.push(`<polygon points="${f(cx - pw)},${f(horizon)} ${f(cx)},${f(horizon - ph)} ${f(cx + pw)},${f(horizon)}" fill="${col(215, 10, 55 + r() * 20)}"/>`);
      p.push(`<polygon points="${f(cx - pw * 0.25)},${f(horizon - ph * 0.75)} ${f(cx)},${f(horizon - ph)} ${f(cx + pw * 0.25)},${f(horizon - ph * 0.75)}" fill="#f4f7fa"/>`);
    }
  }
  p.push(`<polygon points="${ridge(r, w, h, horizon, h * 0.06, 8)}" fill="url(#snow)"/>`);
  const trees = 3 + Math.floor(r() * 9);
  for (let i = 0; i < trees; i++) {
    const x = r() * w, base = horizon + (h - horizon) * r() * 0.8, th = m * (0.1 + r() * 0.25), tw = th * 0.35;
    const g = col(140 + r() * 20, 30, 12 + r() * 12);
    for (let k = 0; k < 3; k++) {
      const y0 = base - (th * k) / 3.2;
      p.push(`<polygon points="${f(x - tw * (1 - k * 0.25))},${f(y0)} ${f(x)},${f(y0 - th * 0.5)} ${f(x + tw * (1 - k * 0.25))},${f(y0)}" fill="${g}"/>`);
    }
  }
  const flakes = r() < 0.4 ? 60 + Math.floor(r() * 80) : 0;
  for (let i = 0; i < flakes; i++) p.push(`<circle cx="${f(r() * w)}" cy="${f(r() * h)}" r="${(0.8 + r() * 1.5).toFixed(2)}" fill="#fff" opacity="0.85"/>`);
  const details = ['snow-covered ground', counted(trees, 'pine tree', 'pine trees')];
  if (mountains) details.push('snowy mountains');
  if (flakes > 0) details.push('falling snow');
  return { body: p.join(''), details };
}

const SCENES: Record<SceneKind | 'generic', (r: Rand, w: number, h: number) => { body: string; details: string[] }> = {
  generic: genericScene,
  beach: beachScene,
  forest: forestScene,
  night: nightScene,
  city: cityScene,
  snow: snowScene,
};

/** The scene as SVG plus its description; `r` is left positioned for the noise pass. */
function buildScene(opts: PhotoOptions, r: Rand): { svg: string; info: SceneInfo } {
  const { width: w, height: h } = opts;
  const kind = opts.kind ?? 'generic';
  const { body, details } = SCENES[kind](r, w, h);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${body}</svg>`;
  return { svg, info: { kind, details } };
}

/** The content of the scene `photoPixels` would draw for these options, without rendering it. */
export function describeScene(opts: PhotoOptions): SceneInfo {
  return buildScene(opts, rng(opts.seed)).info;
}

/**
 * Raw RGB pixels of a photo-like scene (a generic landscape, or one of SCENE_KINDS), plus fine
 * texture and noise, so hashes, blur and exposure metrics behave as on real photographs (not flat
 * colours). Deterministic in the options.
 */
export async function photoPixels(opts: PhotoOptions): Promise<{ data: Buffer; width: number; height: number }> {
  const { seed, width: w, height: h } = opts;
  const r = rng(seed);
  const { svg } = buildScene(opts, r);
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  addTexture(data, w, h, opts.noise ?? 0.35, r);
  return { data, width: w, height: h };
}

/**
 * Low-frequency brightness variation plus per-pixel sensor noise, in place. The hot loop uses
 * precomputed row/column factors and an inline xorshift (not `r()` per sample), which keeps
 * a 640x480 image to a few milliseconds.
 */
function addTexture(data: Buffer, w: number, h: number, noise: number, r: Rand): void {
  const amp = noise * 40;
  const fx = 2 + r() * 6, fy = 2 + r() * 6, ph = r() * 6.28;
  const colTex = new Float64Array(w);
  for (let x = 0; x < w; x++) colTex[x] = Math.sin((x / w) * fx * 6.28 + ph) * amp * 0.5;
  let s = (Math.floor(r() * 0xffffffff) | 1) >>> 0;
  const scale = amp / 4294967296;
  for (let y = 0, i = 0; y < h; y++) {
    const rowTex = Math.cos((y / h) * fy * 6.28);
    for (let x = 0; x < w; x++) {
      const tex = colTex[x] * rowTex;
      for (let c = 0; c < 3; c++, i++) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        const v = data[i] + tex + ((s >>> 0) * scale - amp / 2);
        data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
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
