import { createRequire } from 'node:module';
import type SharpModule from 'sharp';

/**
 * sharp, loaded through its CommonJS entry: its ESM build costs about twice the start-up CPU
 * (≈185 vs ≈95 ms measured here), most of a one-file `imgsift hash`. Import sharp from here;
 * take only types from 'sharp' itself.
 */
const sharp = createRequire(import.meta.url)('sharp') as typeof SharpModule;
export default sharp;
