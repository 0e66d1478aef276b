/**
 * Generated prompts in the style of seed 004's lists (DiffusionDB, open_prompts, ChatGPT-made),
 * with the noise its preprocessing and filters deal with, planted at known rates.
 */

export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STYLES = ['hyper realistic photo of', 'portrait painting of', 'a watercolor sketch of', 'an oil painting of', 'a 3d render of', 'a pencil drawing of', 'a polaroid of', 'concept art of', 'a woodcut print of', 'a macro shot of', 'a cinematic still of', 'an isometric illustration of', 'a charcoal study of', 'a mosaic of', 'a stained glass window of', 'a claymation still of'];
const ADJS = ['friendly', 'dystopian', 'shimmering', 'loud', 'droopy', 'engaging', 'retro', 'thundering', 'ivory', 'fractal', 'ebony', 'melancholic', 'gilded', 'rusty', 'translucent', 'velvet', 'stormy', 'tiny', 'colossal', 'whimsical', 'ornate', 'weathered', 'luminous', 'frozen', 'smoky', 'crystalline', 'feathered', 'mechanical', 'woolen', 'paper', 'sleepy', 'ancient', 'neon', 'glass', 'copper', 'mossy', 'hollow', 'striped', 'spotted', 'gentle'];
const SUBJECTS = ['crater', 'greek hero', 'robot crane', 'french bulldog', 'astronaut', 'white rose', 'ramen bowl', 'black bean taco', 'lighthouse', 'violin', 'typewriter', 'hot air balloon', 'owl', 'samurai', 'teapot', 'bicycle', 'cathedral', 'saxophone', 'chess knight', 'submarine', 'lantern', 'tortoise', 'windmill', 'kite', 'accordion', 'fox', 'clock tower', 'pocket watch', 'hedgehog', 'locomotive', 'origami crane', 'snail', 'beekeeper', 'glacier', 'harp', 'desert caravan', 'heron', 'gramophone', 'octopus chef', 'ice cream truck', 'treehouse', 'cello', 'zeppelin', 'llama', 'pagoda', 'tram'];
const ACTIONS = ['holding', 'standing on', 'carved out of', 'next to', 'inks on parchment with', 'in the midst of', 'dancing with', 'floating above', 'reading to', 'hiding behind', 'painted on', 'made of', 'chasing', 'sleeping under', 'balancing on'];
const PLACES = ['in the woods', 'at a donut shop', 'on a rooftop', 'in a library', 'at dawn', 'in the rain', 'on a frozen lake', 'in a greenhouse', 'inside a snow globe', 'at a train station', 'on the moon', 'in a bazaar', 'under a bridge', 'in a laundromat', ''];
const MODIFIERS = ['in the style of hudson river school', 'trending on artstation', 'highly detailed', '8k', '4k', 'soft lighting', 'volumetric fog', 'studio ghibli style', 'art nouveau', 'unreal engine', 'golden hour', 'bokeh', 'sharp focus', 'matte painting', 'ukiyo-e', 'baroque', 'octane render', 'cinematic lighting'];
/** Names seed 004's preprocessing removes (the word list handed to remove_words). */
export const NAMES = ['greg rutkowski', 'alphonse mucha', 'artgerm', 'wlop', 'ross tran', 'james jean', 'makoto shinkai', 'beeple', 'simon stalenhag', 'ilya kuvshinov'];
const NON_LATIN = ['고양이 한 마리가 소파 위에서 자고 있다', '桜の木の下で眠る猫', '一只在雨中奔跑的红色汽车', 'кот спит на диване у окна'];

export type Planted = 'plain' | 'edit' | 'copy' | 'borrowed' | 'name' | 'weights' | 'url' | 'non_latin' | 'repeated' | 'only_name' | 'short';

/** A stream of prompts: `next()` returns one and what was planted in it. */
export class PromptGenerator {
  private readonly rand: () => number;
  private readonly recent: string[] = [];
  private n = 0;

  /**
   * `borrow`: prompts of another list (the train set a list is deduped against), of which a share
   * `rate` of this stream are copies or small edits (seed 004 found open_prompts overlapping train).
   */
  constructor(seed = 12345, private readonly borrow?: { from: readonly string[]; rate: number }, private readonly window = 20_000) {
    this.rand = seededRandom(seed);
  }

  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.rand() * a.length)];
  }

  base(): string {
    const mods = Array.from({ length: Math.floor(this.rand() * 4) }, () => this.pick(MODIFIERS));
    const head = `${this.pick(STYLES)} ${this.pick(ADJS)} ${this.pick(ADJS)} ${this.pick(SUBJECTS)} ${this.pick(ACTIONS)} a ${this.pick(ADJS)} ${this.pick(SUBJECTS)} ${this.pick(PLACES)}`.trim();
    return [head, ...mods].join(', ');
  }

  /** One small edit: a word added, dropped or swapped, a modifier added, case and spacing. */
  edit(p: string): string {
    const words = p.split(' ');
    const i = Math.floor(this.rand() * words.length);
    switch (Math.floor(this.rand() * 5)) {
      case 0: words.splice(i, 0, this.pick(ADJS)); break;
      case 1: if (words.length > 4) words.splice(i, 1); break;
      case 2: words[i] = this.pick(ADJS); break;
      case 3: return `${p}, ${this.pick(MODIFIERS)}`;
      default: return p.toUpperCase().replace(/,/g, ' ,') + '!';
    }
    return words.join(' ');
  }

  next(): { text: string; planted: Planted } {
    const r = this.rand();
    const earlier = this.recent.length ? this.recent[Math.floor(this.rand() * this.recent.length)] : null;
    let out: { text: string; planted: Planted };
    if (this.borrow && this.borrow.from.length && this.rand() < this.borrow.rate) {
      const other = this.borrow.from[Math.floor(this.rand() * this.borrow.from.length)];
      this.n++;
      return { text: this.rand() < 0.5 ? other : this.edit(other), planted: 'borrowed' };
    }
    if (earlier && r < 0.06) out = { text: this.edit(earlier), planted: 'edit' };
    else if (earlier && r < 0.09) out = { text: `  ${earlier.replace(/ /g, '  ')}.`, planted: 'copy' };
    else if (r < 0.12) out = { text: `${this.base()} by ${this.pick(NAMES)}${this.rand() < 0.5 ? ` and ${this.pick(NAMES)}` : ''}`, planted: 'name' };
    else if (r < 0.14) out = { text: `(masterpiece:1.2), ${this.base()}`, planted: 'weights' };
    else if (r < 0.15) out = { text: `${this.base()} https://example.com/p/${this.n}`, planted: 'url' };
    else if (r < 0.16) out = { text: this.pick(NON_LATIN), planted: 'non_latin' };
    else if (r < 0.165) out = { text: Array(3 + Math.floor(this.rand() * 4)).fill(this.pick(SUBJECTS)).join(' '), planted: 'repeated' };
    else if (r < 0.17) out = { text: this.pick(NAMES), planted: 'only_name' };
    else if (r < 0.18) out = { text: this.pick(SUBJECTS).split(' ')[0], planted: 'short' };
    else out = { text: this.base(), planted: 'plain' };
    this.n++;
    if (out.planted === 'plain') {
      if (this.recent.length < this.window) this.recent.push(out.text);
      else this.recent[Math.floor(this.rand() * this.window)] = out.text;
    }
    return out;
  }
}
