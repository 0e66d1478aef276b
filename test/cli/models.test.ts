import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerModels } from '../../src/cli/models.js';
import { modelsReport, formatModelsReport } from '../../src/cli/models-report.js';
import { installTinyModel } from '../embed/helpers.js';
import { writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

test('imgsift models: lists installed models, flags unusable entries, shows presets and how to add one', async () => {
  const dir = await installTinyModel(await tempDir());
  await writeModel(join(dir, 'half-installed', 'weights.bin'), Buffer.from('x'));
  const text = formatModelsReport(modelsReport(dir));
  assert.match(text, new RegExp(`models directory: ${dir}`));
  assert.match(text, /^ {2}tiny {2}image {2}64-d/m);
  assert.match(text, /half-installed {2}UNUSABLE: .*has no manifest.json and is not a preset/);
  assert.ok(text.includes(join(dir, 'clip-vit-b32', 'model.onnx')));
  for (const p of ['clip-vit-b32', 'clip-vit-b32-text', 'dinov2-small', 'siglip-base']) assert.match(text, new RegExp(`^ {2}${p} `, 'm'));
  assert.match(text, /never downloads/);

  // Through commander, as the CLI runs it: --json, and exit code 1 for the unusable entry.
  const state = { exitCode: 0 };
  const program = new Command().exitOverride();
  registerModels(program, state);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (out.push(chunk), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'imgsift', 'models', '--dir', dir, '--json']);
  } finally {
    process.stdout.write = write;
  }
  const json = JSON.parse(out.join('')) as { installed: Array<{ name: string; problem?: string }> };
  assert.deepEqual(json.installed.map((m) => [m.name, Boolean(m.problem)]), [['half-installed', true], ['tiny', false]]);
  assert.equal(state.exitCode, 1);
});
