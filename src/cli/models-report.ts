import { join } from 'node:path';
import { PRESETS, type ModelManifest } from '../embed/manifest.js';
import { listInstalled, modelsDir, MANIFEST_FILE, type InstalledModel } from '../embed/models-dir.js';

/** What `imgsift models` reports: the models directory, presets, and what is installed there. */
export interface ModelsReport {
  dir: string;
  presets: Array<{ name: string; kind: ModelManifest['kind']; dim?: number; input: string; output: string; source?: string }>;
  installed: InstalledModel[];
}

export function modelsReport(dir: string = modelsDir()): ModelsReport {
  return {
    dir,
    presets: Object.values(PRESETS).map((p) => ({ name: p.name, kind: p.kind, dim: p.dim, input: p.input, output: p.output, source: p.source })),
    installed: listInstalled(dir),
  };
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function formatModelsReport(r: ModelsReport): string {
  const out: string[] = [`models directory: ${r.dir} (set IMGSIFT_MODELS to change it)`, ''];
  out.push('installed:');
  if (r.installed.length === 0) out.push('  (none)');
  for (const m of r.installed) {
    if (m.problem) out.push(`  ${m.name}  UNUSABLE: ${m.problem}`);
    else out.push(`  ${m.name}  ${m.manifest!.kind}  ${m.manifest!.dim ? `${m.manifest!.dim}-d  ` : ''}${mb(m.bytes!)}  ${m.file}`);
  }
  out.push('', 'presets (install by putting the ONNX file where shown):');
  for (const p of r.presets) {
    out.push(`  ${p.name.padEnd(18)} ${p.kind.padEnd(5)} ${String(p.dim ?? '?').padStart(4)}-d  ${join(r.dir, p.name, 'model.onnx')}`);
    if (p.source) out.push(`  ${''.padEnd(18)} ${p.source}; input '${p.input}', output '${p.output}'`);
  }
  out.push(
    '',
    'to add a model:',
    `  - a preset: copy its ONNX export to <dir>/<preset>/model.onnx (text towers also need vocab.json and merges.txt there)`,
    `  - any other encoder: <dir>/<name>/model.onnx plus <dir>/<name>/${MANIFEST_FILE}, either {"preset": "<preset>", ...overrides}`,
    `    or a full manifest: {"name", "kind": "image", "input", "output", "pooling": "none|cls|mean", "normalize": true,`,
    `    "image": {"size", "resize": "shortest|squash", "resize_to", "interpolation", "mean", "std", "layout": "nchw|nhwc"}}`,
    `  - or name a file directly in a recipe: embed: { model: ./path/model.onnx, preset: clip-vit-b32 }`,
    `  image models serve the embed step; text towers the embed_text step (captions/prompts) and \`similar --text\``,
    '  imgsift never downloads models; export one on a machine with network access, e.g. with Hugging Face optimum.',
  );
  return out.join('\n') + '\n';
}
