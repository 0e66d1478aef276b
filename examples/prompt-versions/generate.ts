/**
 * Seed 004's data, small: prompt → image datasets in the layouts the seed merges into v1, v2, ...
 *
 *   OUT/ddb/train/metadata.jsonl, OUT/ddb/train/*.jpg          DiffusionDB split (train/validation folders)
 *   OUT/ddb/validation/metadata.jsonl, ...
 *   OUT/chatgpt_0330/metadata.jsonl, OUT/chatgpt_0330/images/*.jpg   ChatGPT prompts' images, no splits
 *   OUT/openprompts_120k/metadata.jsonl, .../images/*.jpg      added later (v2), no splits
 *   OUT/resources/prompts_chatgpt_0330.txt                      the prompt list the ChatGPT images came from
 *   OUT/resources/names.txt                                     artist names preprocessing removes
 *
 * metadata.jsonl lines are {"file_name": ..., "text": ...} as Hugging Face's imagefolder reads them.
 * Planted: prompts repeated with other case and punctuation (self duplicates), a train prompt that
 * is a validation prompt plus ", 4k" (cross duplicate), prompts that only differ by an artist's name
 * (duplicates once preprocessed), too-short prompts and a URL (text filter), and openprompts rows
 * that repeat v1 prompts. Deterministic: the same OUT content on every run.
 *
 *   node --import tsx examples/prompt-versions/generate.ts OUT_DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg, rng, SCENE_KINDS } from '../../src/demo/synth.js';

const VOCAB = `
astronaut lantern violin glacier teapot harbor comet falcon orchard lighthouse samurai cathedral
bicycle volcano library pumpkin submarine windmill tiger raven meadow clockwork balloon desert
pirate carousel fox telescope waterfall monk knight robot canyon cactus kitten saxophone tram
owl bakery palace lagoon typewriter ballerina locomotive igloo tornado sunflower octopus chess
wizard harp temple bridge hedgehog opera kayak beetle marble velvet copper emerald crimson golden
misty rusty frozen glowing ancient tiny giant wooden paper glass silver amber cobalt ivory scarlet
watercolor charcoal pastel baroque cubist surreal minimalist vintage cinematic dreamy gloomy
sunrise twilight midnight autumn winter storm drizzle fog moonlight candlelight dusk noon
painting sketch photograph mosaic tapestry etching poster mural engraving collage diorama woodcut
`.trim().split(/\s+/);

const NAMES = ['greg rutkowski', 'alphonse mucha', 'artgerm'];

/** A prompt of `n` words no earlier prompt shares more than one word with. */
function makePrompts(count: number, words: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[][] = [];
  while (out.length < count) {
    const pick = new Set<string>();
    while (pick.size < words) pick.add(VOCAB[Math.floor(r() * VOCAB.length)]);
    const p = [...pick];
    if (out.every((q) => q.filter((w) => pick.has(w)).length <= 1)) out.push(p);
  }
  return out.map((p) => `a ${p.slice(0, 3).join(' ')} with ${p.slice(3).join(' ')}`);
}

/** The same prompt in other case and punctuation: identical once normalised. */
const recase = (p: string) => p.replace(/\b\w/g, (c) => c.toUpperCase()).replace(' with ', ', with ') + '!';

interface Row {
  file: string;
  text: string;
}

async function writeImageFolder(dir: string, rows: Row[], seed: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [i, row] of rows.entries()) {
    const file = join(dir, row.file);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, await photoJpeg({ seed: seed + i, width: 64 + (i % 3) * 8, height: 48, kind: SCENE_KINDS[i % SCENE_KINDS.length], quality: 85 }));
  }
  await writeFile(join(dir, 'metadata.jsonl'), rows.map((r) => JSON.stringify({ file_name: r.file, text: r.text }) + '\n').join(''));
}

const num = (i: number) => String(i).padStart(5, '0');

export async function generate(out: string): Promise<void> {
  const base = makePrompts(64, 6, 4004);
  let next = 0;
  const take = (n: number) => base.slice(next, (next += n));

  // DiffusionDB: train and validation folders.
  const valid = take(8);
  const train = take(24);
  const trainTexts = [
    ...train,
    recase(train[0]), recase(train[5]),                        // self duplicates (case, punctuation)
    `${valid[1]}, 4k`, `${valid[4]}, 4k`,                      // cross duplicates of validation prompts
    `${train[9]}, ${NAMES[0]}`,                                // a duplicate once the artist's name is removed
    `${train[12]} by ${NAMES[1]}`.replace(' by ', ', '),       // another
    'cat', 'red dog',                                          // too short (text filter: words < 3)
    'see https://example.com/prompt for a glowing harbor',     // a URL (text filter)
  ];
  const validTexts = [...valid, recase(valid[2])];
  await writeImageFolder(join(out, 'ddb', 'train'), trainTexts.map((text, i) => ({ file: `${num(i)}.jpg`, text })), 100);
  await writeImageFolder(join(out, 'ddb', 'validation'), validTexts.map((text, i) => ({ file: `${num(i)}.jpg`, text })), 300);

  // ChatGPT prompts' images: one folder, no splits; and the prompt list they were made from.
  const chat = take(14);
  const chatTexts = [...chat, recase(chat[3]), `${train[2]}, ${NAMES[2]}`, 'ok'];
  await writeImageFolder(join(out, 'chatgpt_0330'), chatTexts.map((text, i) => ({ file: `images/${num(i)}.jpg`, text })), 500);
  await mkdir(join(out, 'resources'), { recursive: true });
  await writeFile(join(out, 'resources', 'prompts_chatgpt_0330.txt'), chatTexts.join('\n') + '\n');
  await writeFile(join(out, 'resources', 'names.txt'), NAMES.join('\n') + '\n');

  // openprompts: added for v2; repeats some v1 prompts. Its second row hashes to validation, so the
  // ddb train prompt it copies leaves the dataset in v2 (cross dedup removes the train side).
  const open = take(12);
  const openTexts = [open[0], `${train[15]}, 4k`, ...open.slice(1), recase(train[3]), recase(chat[6]), `${valid[6]}, 4k`, recase(open[0])];
  await writeImageFolder(join(out, 'openprompts_120k'), openTexts.map((text, i) => ({ file: `images/${num(i)}.jpg`, text })), 700);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node --import tsx examples/prompt-versions/generate.ts OUT_DIR\n');
    process.exit(2);
  }
  await generate(out);
  process.stdout.write(`wrote ddb/, chatgpt_0330/, openprompts_120k/ and resources/ under ${out}\n`);
}
