import type { Exporter } from './types.js';
import { manifestExporter } from './manifest.js';
import { webdatasetExporter } from './webdataset.js';
import { imageFolderExporter } from './imagefolder.js';
import { kohyaExporter } from './kohya.js';
import { removalListExporter, relabelMapExporter } from './removal.js';
import { taggedManifestExporter } from '../review/tagged-manifest.js';
import { filesExporter } from './files.js';
import { groupedJsonExporter } from './grouped-json.js';
import { finalManifestExporter, cleaningSummaryExporter } from './cleaning.js';
import { cocoExporter } from './coco.js';

/** Every export format a recipe can name. */
const EXPORTERS: Exporter<any>[] = [
  webdatasetExporter,
  imageFolderExporter,
  kohyaExporter,
  manifestExporter,
  removalListExporter,
  relabelMapExporter,
  taggedManifestExporter,
  filesExporter,
  groupedJsonExporter,
  finalManifestExporter,
  cleaningSummaryExporter,
  cocoExporter,
];

const BY_FORMAT = new Map(EXPORTERS.map((e) => [e.format, e]));

export function getExporter(format: string): Exporter<unknown> | undefined {
  return BY_FORMAT.get(format);
}

export function exporterFormats(): string[] {
  return EXPORTERS.map((e) => e.format);
}

