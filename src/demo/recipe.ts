/**
 * The demo's recipe, written next to its data so a user can read, edit and rerun it with
 * `imgsift build <out>/recipe.yaml`. It uses every step imgsift has.
 */
export function demoRecipeYaml(): string {
  return `# imgsift demo recipe: edit it and run \`imgsift build recipe.yaml\` again;
# only what your change affects is recomputed.
name: demo
workdir: .imgsift
source:
  format: imagefolder          # train/ and test/ folders, each with metadata.jsonl
  path: ./data
  fields: { text: text, label: label }
steps:
  - probe: {}                  # format, size, colour space, EXIF, full decode, bombs
  - hash: {}                   # aHash, dHash, pHash, wHash (imagehash-compatible) and a pixel hash
  - dedup_signals: {}          # mirrored, letterbox-trimmed and centre hashes for near-duplicates
  - quality: {}                # cleanvision's issues (dark, light, blurry, ...) and seed 003's rules
  - split:                     # keep the train/test folders; md5-based for samples without one
      ratios: { train: 0.85, test: 0.15 }
      keep_source_splits: true
  - dedup: { keep: largest }   # exact and near-duplicate clusters; non-kept copies get 'duplicate'
  - leaks: { between: [train, [test]], methods: [exact, perceptual] }
  - text_dedup: { threshold: 0.85 }   # near-identical captions (MinHash-LSH)
  - filter: { drop: [corrupt, unreadable, decompression_bomb, duplicate, leak] }
export:
  - { format: webdataset, to: ./out/wds, samples_per_shard: 128 }
  - { format: manifest, to: ./out/manifest.jsonl }
  - { format: manifest, to: ./out/manifest.parquet, include_dropped: true }
report: ./out/report.html          # one self-contained HTML file; open it in a browser
`;
}
