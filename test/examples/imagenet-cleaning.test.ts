import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateImagenetDump, VENDOR_MAP } from '../../examples/imagenet-cleaning/generate.js';
import { tempDir } from '../helpers/tmp.js';
import { SEED_STEP_4_1 } from '../helpers/seed002.js';

// Seed 002 end to end with the example's commands, then the seed's own loader on the outputs.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/imagenet-cleaning');

/** The CLI from source (no dist/ needed); run from the repository so workers find tsx. */
function imgsift(args: string[]): { code: number | null; out: string } {
  const code = `import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(${JSON.stringify(args)})).then((c) => { process.exitCode = c; })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--eval', code], { cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, IMGSIFT_WORKERS: '1' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

// Phase 4.2 of the seed, verbatim from `class CleanedImageNetDataset` to its use, with a stand-in
// for torch's Dataset and for the Hugging Face dataset (row index -> {'image', 'label'}).
const SEED_LOADER = `
import json, sys
class Dataset: pass
class _Img:
    def convert(self, mode): return self
manifests, labels_file = sys.argv[1], sys.argv[2]
full_train_dataset = [{'image': _Img(), 'label': l} for l in json.load(open(labels_file))]
train_transform = None

# Load cleaning artifacts
with open(manifests + '/imagenet1k_removal_list.txt', 'r') as f:
    removal_ids = set(int(line.strip()) for line in f)

with open(manifests + '/imagenet1k_relabel_map.json', 'r') as f:
    relabel_map = json.load(f)

# Modify dataset class
class CleanedImageNetDataset(Dataset):
    def __init__(self, hf_dataset, removal_ids, relabel_map, transform=None):
        self.dataset = hf_dataset
        self.removal_ids = removal_ids
        self.relabel_map = relabel_map
        self.transform = transform

        # Filter valid indices
        self.valid_indices = [
            i for i in range(len(hf_dataset))
            if i not in removal_ids
        ]

    def __len__(self):
        return len(self.valid_indices)

    def __getitem__(self, idx):
        real_idx = self.valid_indices[idx]
        sample = self.dataset[real_idx]
        image = sample['image'].convert('RGB')

        # Use relabeled label if available, otherwise original
        label = self.relabel_map.get(str(real_idx), sample['label'])

        if self.transform:
            image = self.transform(image)

        return image, label

# Use in training
cleaned_dataset = CleanedImageNetDataset(
    full_train_dataset,
    removal_ids,
    relabel_map,
    transform=train_transform
)
print(json.dumps({'len': len(cleaned_dataset), 'removed': sorted(removal_ids),
                  'labels': {str(cleaned_dataset.valid_indices[i]): cleaned_dataset[i][1] for i in range(len(cleaned_dataset))}}))
`;

test('seed 002 with imgsift: import, tag, build; the seed loader reads the removal list and relabel map', async () => {
  const dir = await tempDir();
  const truth = await generateImagenetDump(join(dir, 'data'), { perClass: 6, valPerClass: 2, leaks: 3, duplicates: 2, mislabels: 2 });
  await copyFile(join(EXAMPLE, 'recipe.yaml'), join(dir, 'recipe.yaml'));

  const recipe = join(dir, 'recipe.yaml');
  const workdir = join(dir, '.imgsift');
  let r = imgsift(['build', recipe]);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /failed/);
  r = imgsift(['import-issues', truth.vendorExport, '--workdir', workdir, '--source', 'visual_layer', '--map', VENDOR_MAP]);
  assert.equal(r.code, 0, r.out);
  // Issue 16: a batch relabel from vendor suggestions used to fail with "action 'relabel' needs newLabel".
  r = imgsift(['tag', '--workdir', workdir, '--where', 'issue=mislabel&source=visual_layer&scoreMin=0.9',
    '--add', 'mislabel_confirmed', '--action', 'accept-suggestion', '--reviewer', 'Kushagra']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /1 sample\(s\) matched, 1 changed/);
  r = imgsift(['tag', '--workdir', workdir, '--where', 'issue=outlier', '--add', 'outlier_valid,keep', '--action', 'keep', '--reviewer', 'Saeed']);
  assert.equal(r.code, 0, r.out);
  r = imgsift(['build', recipe]);
  assert.equal(r.code, 0, r.out);

  const manifests = join(dir, 'manifests');
  // The HF dataset as the seed dumped it: row index -> the label folder it was written to.
  const labels: number[] = [];
  for (let i = 0; i < truth.train; i++) labels.push(-1);
  const { readdir } = await import('node:fs/promises');
  for (const label of await readdir(join(dir, 'data/train'))) {
    for (const f of await readdir(join(dir, 'data/train', label))) labels[Number(f.replace('.jpg', ''))] = Number(label);
  }
  assert.ok(labels.every((l) => l >= 0));
  await writeFile(join(dir, 'labels.json'), JSON.stringify(labels));
  const py = spawnSync('/usr/bin/python3', ['-c', SEED_LOADER, manifests, join(dir, 'labels.json')], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const loaded = JSON.parse(py.stdout) as { len: number; removed: number[]; labels: Record<string, number> };

  // Removed: one copy of each train duplicate, nothing else in train (leaks leave from val).
  assert.equal(loaded.removed.length, truth.trainDuplicates.length);
  assert.equal(loaded.len, truth.train - truth.trainDuplicates.length);
  for (const l of truth.leaks) assert.ok(!loaded.removed.includes(Number(l.train.split('/')[2].replace('.jpg', ''))), `${l.train} stays`);
  // Relabeled: the confident mislabel gets its true (integer) label; the unsure one keeps its folder's.
  const [sure, unsure] = truth.mislabels;
  assert.equal(loaded.labels[String(sure.index)], Number(sure.label));
  assert.equal(loaded.labels[String(unsure.index)], Number(unsure.filed));
  const relabelMap = JSON.parse(await readFile(join(manifests, 'imagenet1k_relabel_map.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(relabelMap, { [String(sure.index)]: Number(sure.label) });

  // The seed's Step 4.1, unchanged, on the final manifest writes the same removal list and relabel
  // map as imgsift (integer row indices, integer labels), and the loader reads them alike.
  const step41 = join(dir, 'step41');
  await mkdir(join(step41, 'manifests'), { recursive: true });
  await copyFile(join(manifests, 'imagenet1k_final_cleaning_manifest.csv'), join(step41, 'manifests', 'imagenet1k_final_cleaning_manifest.csv'));
  const s41 = spawnSync('/usr/bin/python3', ['-c', SEED_STEP_4_1], { cwd: step41, encoding: 'utf8' });
  assert.equal(s41.status, 0, s41.stderr);
  assert.match(s41.stdout, new RegExp(`Images to remove: ${truth.trainDuplicates.length}\\n`));
  assert.match(s41.stdout, /Images to relabel: 1\n/);
  assert.equal(
    await readFile(join(step41, 'manifests', 'imagenet1k_removal_list.txt'), 'utf8'),
    await readFile(join(manifests, 'imagenet1k_removal_list.txt'), 'utf8'),
  );
  const seedMapText = await readFile(join(step41, 'manifests', 'imagenet1k_relabel_map.json'), 'utf8');
  assert.deepEqual(JSON.parse(seedMapText), relabelMap);
  // JSON.parse reads 5.0 as 5: the text shows whether pandas kept the label an integer.
  assert.equal(seedMapText, `{\n  "${sure.index}": ${Number(sure.label)}\n}`, 'the label stays an integer (not 5.0)');
  const py41 = spawnSync('/usr/bin/python3', ['-c', SEED_LOADER, join(step41, 'manifests'), join(dir, 'labels.json')], { encoding: 'utf8' });
  assert.equal(py41.status, 0, py41.stderr);
  assert.deepEqual(JSON.parse(py41.stdout), loaded);

  // The all-splits manifest merges the leak tags; the summary states what happened.
  const final = await readFile(join(manifests, 'imagenet1k_final_cleaning_manifest_all_splits.csv'), 'utf8');
  for (const l of truth.leaks) assert.match(final, new RegExp(`^${l.val.replace(/\//g, '\\/')},.*train_test_leak.*,remove,`, 'm'));
  const summary = await readFile(join(manifests, 'imagenet1k_cleaning_summary.txt'), 'utf8');
  assert.match(summary, /mislabel \(visual_layer\): 2/);
  assert.match(summary, /removed as leaks: 3/);
  assert.match(summary, /relabeled: 1/);
  assert.match(summary, new RegExp(`train: ${truth.train} -> ${truth.train - truth.trainDuplicates.length}`));

  // The cleaned imagefolder export carries the relabel, with the original label in its metadata.
  const meta = (await readFile(join(dir, 'out/imagenet1k_cleaned/train/metadata.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const row = meta.find((m) => m.id === sure.path)!;
  assert.equal(row.label, sure.label);
});
