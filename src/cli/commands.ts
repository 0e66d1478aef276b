import type { Command } from 'commander';
import type { CliState } from './common.js';
import { registerBuild } from './build.js';
import { registerDemo } from './demo.js';
import { registerHash } from './hash.js';
import { registerQuality } from './quality.js';
import { registerTextDedup } from './text-dedup.js';
import { registerExport } from './export.js';
import { registerValidate } from './validate.js';
import { registerImportIssues } from './import-issues.js';
import { registerReport } from './report.js';
import { registerReview } from './review.js';
import { registerDownload } from './download.js';
import { registerModels } from './models.js';
import { registerSimilar } from './similar.js';
import { registerDedup } from './dedup.js';
import { registerLeaks } from './leaks.js';
import { registerGc } from './gc.js';
import { registerTag } from './tag.js';
import { registerDiff, registerRuns } from './runs.js';
import { registerWorker } from './worker.js';

/** Every command of the CLI, in the order `imgsift --help` lists them. */
export const COMMANDS: Array<(program: Command, state: CliState) => void> = [
  registerDemo,
  registerBuild,
  registerHash,
  registerQuality,
  registerDedup,
  registerLeaks,
  registerTextDedup,
  registerExport,
  registerValidate,
  registerImportIssues,
  registerReport,
  registerReview,
  registerDownload,
  registerModels,
  registerSimilar,
  registerGc,
  registerTag,
  registerRuns,
  registerDiff,
  registerWorker,
];
