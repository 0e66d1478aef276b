import type { z } from 'zod';
import type { StepContext } from '../steps/types.js';

/** Everything an exporter needs: the catalog (with the run's `active` view) and where to write. */
export interface ExportContext extends StepContext {
  /** `--dev`: write locally (extracted shards) instead of uploading. */
  dev: boolean;
}

/** Figures an exporter reports for the build summary. */
export type ExportStats = Record<string, number | string>;

export interface Exporter<O = unknown> {
  format: string;
  description: string;
  options: z.ZodType<O>;
  run(ctx: ExportContext, options: O): Promise<ExportStats>;
}
