/**
 * Which kinds of near copies each text-dedup measure removes at seed 004's thresholds (self 0.85,
 * cross 0.75), on a planted set: for each kind, several prompt pairs (short and long), each pair
 * run through selfDedup exactly as the text_dedup step runs it. Prints a Markdown table (the one
 * in README.md) with the pairs removed at 0.85 and at 0.75, and the median similarity.
 *
 *   node --import tsx bench/text-measures.ts
 */
import { measuresTable } from './lib/text-measures.js';

console.log('Pairs removed at 0.85 · at 0.75 (median similarity); text normalised first (NFKC, lowercase, punctuation removed).\n');
console.log(measuresTable());
