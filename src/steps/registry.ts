import type { MapStep, Step } from './types.js';
import { filterStep } from './filter.js';
import { downloadStep } from './download.js';
import { embedStep } from './embed.js';
import { embedTextStep } from './embed-text.js';
import { semanticStep } from './semantic.js';
import { dedupSignalsStep } from './dedup-signals.js';
import { dedupStep } from './dedup.js';
import { leaksStep } from './leaks.js';
import { probeStep } from './probe.js';
import { splitStep } from './split.js';
import { hashStep } from './hash.js';
import { qualityStep } from './quality.js';
import { textDedupStep } from './text-dedup.js';
import { cropStep } from './crop.js';
import { deriveStep } from './derive.js';
import { bucketStep } from './bucket.js';
import { textTransformStep } from './text-transform.js';
import { textFilterStep } from './text-filter.js';
import { alignStep } from './align.js';
import { editMaskStep } from './edit-mask.js';
import { captionStep } from './caption.js';
import { augmentStep } from './augment.js';
import { balanceStep } from './balance.js';

/**
 * Every step a recipe can name. A step is a module with one job; adding one means adding it here.
 * Worker threads import this module too, so per-sample steps must be importable without side effects.
 */
const STEPS: Step[] = [
  downloadStep,
  probeStep,
  hashStep,
  dedupSignalsStep,
  qualityStep,
  cropStep,
  embedStep,
  embedTextStep,
  semanticStep,
  splitStep,
  dedupStep,
  leaksStep,
  textDedupStep,
  filterStep,
  deriveStep,
  bucketStep,
  textTransformStep,
  textFilterStep,
  alignStep,
  editMaskStep,
  captionStep,
  augmentStep,
  balanceStep,
];

const BY_NAME = new Map<string, Step>(STEPS.map((s) => [s.name, s]));

export function getStep(name: string): Step | undefined {
  return BY_NAME.get(name);
}

export function getMapStep(name: string): MapStep<unknown> | undefined {
  const s = BY_NAME.get(name);
  return s && s.kind === 'map' ? s : undefined;
}

export function stepNames(): string[] {
  return STEPS.map((s) => s.name);
}

export function allSteps(): readonly Step[] {
  return STEPS;
}
