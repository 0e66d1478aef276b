import type { Command } from 'commander';
import type { CliState } from './common.js';

/**
 * Every command by name, with what `imgsift --help` shows of it and how to load it. `imgsift X`
 * imports only command X's module (and what it needs); `--help` and bad usage import none, so
 * they start at once. Each entry's usage and description must be those its module registers:
 * test/cli/start.test.ts loads every module and compares the help pages.
 */
export interface CommandEntry {
  name: string;
  /** Commander's usage of the command, e.g. '[options] <files...>'. */
  usage: string;
  description: string;
  load: () => Promise<(program: Command, state: CliState) => void>;
}

export const COMMAND_INDEX: readonly CommandEntry[] = [
  { name: 'demo', usage: '[options]', description: 'make a sample dataset with planted problems, build it, and show what was found', load: async () => (await import('./demo.js')).registerDemo },
  { name: 'build', usage: '[options] <recipe>', description: 'run a recipe: ingest the source, run its steps, write its exports, print the summary', load: async () => (await import('./build.js')).registerBuild },
  { name: 'hash', usage: '[options] <files...>', description: 'imagehash-compatible perceptual hashes (16 hex digits) plus the file sha256, one line per file', load: async () => (await import('./hash.js')).registerHash },
  { name: 'quality', usage: '[options] <dir>', description: 'score every image in DIR for quality issues (cleanvision types plus resolution, format, exposure, sharpness)', load: async () => (await import('./quality.js')).registerQuality },
  { name: 'dedup', usage: '[options] <dir>', description: 'duplicate clusters (exact and near copies) of the images under DIR: OUT/clusters.jsonl and OUT/duplicates.csv', load: async () => (await import('./dedup.js')).registerDedup },
  { name: 'leaks', usage: '[options]', description: 'train–test leaks between two folders: a CSV of leaked pairs and a summary beside it', load: async () => (await import('./leaks.js')).registerLeaks },
  { name: 'text-dedup', usage: '[options] <file>', description: 'remove near-duplicate prompts/captions (MinHash-LSH on character n-grams, exact Jaccard), within FILE and against a reference file', load: async () => (await import('./text-dedup.js')).registerTextDedup },
  { name: 'export', usage: '[options]', description: 'write one export of the latest run of a catalog (webdataset, imagefolder, kohya, manifest, removal_list, ...)', load: async () => (await import('./export.js')).registerExport },
  { name: 'validate', usage: '[options] <shards>', description: 'check WebDataset shards: members per sample, unique keys, images decode, mask coverage/components/border; optional overlays', load: async () => (await import('./validate.js')).registerValidate },
  { name: 'import-issues', usage: '[options] <export>', description: "load a third-party issue export (e.g. Visual Layer's CSV) into the catalog as issues of that tool", load: async () => (await import('./import-issues.js')).registerImportIssues },
  { name: 'report', usage: '[options]', description: 'write the static HTML report of a build (one self-contained file) and print its text summary', load: async () => (await import('./report.js')).registerReport },
  { name: 'review', usage: '[options]', description: 'local review web app: thumbnail grid, filters, duplicate and leak pairs, keep/remove/relabel/tag with history', load: async () => (await import('./review.js')).registerReview },
  { name: 'download', usage: '[options] <manifest>', description: 'fetch the URLs of a manifest (txt, jsonl, csv, parquet) with retries; check, resize and store the images; a status per sample', load: async () => (await import('./download.js')).registerDownload },
  { name: 'models', usage: '[options]', description: 'list embedding model presets and the models installed in the models directory ($IMGSIFT_MODELS), and how to add one', load: async () => (await import('./models.js')).registerModels },
  { name: 'similar', usage: '[options]', description: 'the samples most similar to a sample or to a text query, by the embeddings of a build with an `embed` step', load: async () => (await import('./similar.js')).registerSimilar },
  { name: 'gc', usage: '[options]', description: 'remove derived files (masks, crops, resized images) that no sample refers to any more', load: async () => (await import('./gc.js')).registerGc },
  { name: 'tag', usage: '[options]', description: 'tag and decide for every sample a filter selects (the review API filter language), recorded with a reviewer', load: async () => (await import('./tag.js')).registerTag },
  { name: 'runs', usage: '[options]', description: 'list the builds of a catalog: tag, date, status, samples per source and per step', load: async () => (await import('./runs.js')).registerRuns },
  { name: 'diff', usage: '[options] <from> <to>', description: 'compare two dataset versions (tags or run numbers): rows added and removed per source and per step', load: async () => (await import('./runs.js')).registerDiff },
  { name: 'worker', usage: '[options]', description: 'run shard jobs of queue builds (`imgsift build R --queue URL`) from Redis until stopped', load: async () => (await import('./worker.js')).registerWorker },
];
