import type { Exporter } from './types.js';
import { manifestExporter } from './manifest.js';
import { webdatasetExporter } from './webdataset.js';

/** Every export format a recipe can name. */
const EXPORTERS: Exporter<any>[] = [webdatasetExporter, manifestExporter];

const BY_FORMAT = new Map(EXPORTERS.map((e) => [e.format, e]));

export function getExporter(format: string): Exporter<unknown> | undefined {
  return BY_FORMAT.get(format);
}

export function exporterFormats(): string[] {
  return EXPORTERS.map((e) => e.format);
}
