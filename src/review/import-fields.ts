import { UsageError } from '../errors.js';

// The columns an issue export may carry and the `--map` parser: apart from imports.ts so the CLI
// can declare its options without loading the importer.

/** What an export row carries; everything but the type and one of id/path is optional. */
export const IMPORT_FIELDS = ['id', 'path', 'label', 'issue_type', 'confidence', 'suggested_label', 'reason'] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];
export type FieldMap = Partial<Record<ImportField, string>>;

/** Column names recognised without a mapping (compared case-insensitively), in order of preference. */
export const FIELD_ALIASES: Record<ImportField, readonly string[]> = {
  id: ['image_id', 'id', 'sample_id', 'imageid', 'media_id', 'key'],
  path: ['image_path', 'path', 'file_path', 'filepath', 'file_name', 'filename', 'image', 'uri', 'image_uri'],
  label: ['label', 'class', 'class_name', 'original_label', 'category', 'vl_label'],
  issue_type: ['issue_type', 'flag', 'issue', 'flag_type', 'vl_flag_type', 'issue_category', 'type'],
  confidence: ['confidence', 'vl_confidence', 'score', 'probability', 'severity'],
  suggested_label: ['suggested_label', 'suggested_class', 'predicted_label', 'suggestion', 'vl_suggested_label'],
  reason: ['reason', 'explanation', 'description', 'details', 'vl_reason'],
};

/** Issue source names: lowercase, and never 'imgsift' (imgsift's own issues are rebuilt by every run). */
export const SOURCE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
export const DEFAULT_IMPORT_SOURCE = 'visual_layer';

/** Parse `--map id=image_id,path=image_path`. */
export function parseFieldMap(spec: string): FieldMap {
  const out: FieldMap = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const field = (eq < 0 ? part : part.slice(0, eq)).trim();
    const column = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(IMPORT_FIELDS as readonly string[]).includes(field)) {
      throw new UsageError(`--map: unknown field '${field}'; fields: ${IMPORT_FIELDS.join(', ')}`);
    }
    if (!column) throw new UsageError(`--map: '${part}' needs a column name (${field}=COLUMN)`);
    out[field as ImportField] = column;
  }
  return out;
}
