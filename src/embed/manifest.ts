import { z } from 'zod';

/**
 * How to run one ONNX encoder: what it takes (image preprocessing or tokenizer), which output
 * holds the embedding, how to pool it and whether to L2-normalise. A user who has a model file
 * names a preset; any other model gets a `manifest.json` next to its file.
 */

const Triple = z.tuple([z.number(), z.number(), z.number()]);

export const ImagePreprocess = z
  .object({
    /** Side of the square the model takes. */
    size: z.number().int().min(1).max(4096),
    /**
     * 'shortest': scale so the shorter side is `resize_to`, then centre-crop `size`×`size` (CLIP, DINOv2).
     * 'squash': scale straight to `size`×`size`, ignoring the aspect ratio (SigLIP).
     */
    resize: z.enum(['shortest', 'squash']).default('shortest'),
    /** Shorter side after resizing, for 'shortest' (default: `size`, i.e. no margin to crop). */
    resize_to: z.number().int().min(1).max(8192).optional(),
    interpolation: z.enum(['bicubic', 'bilinear', 'nearest']).default('bicubic'),
    /** Pixel values are scaled by 1/255, then (x - mean) / std per channel (RGB order). */
    mean: Triple.default([0, 0, 0]),
    std: Triple.refine((s) => s.every((v) => v > 0), { message: 'std: every value must be > 0' }).default([1, 1, 1]),
    layout: z.enum(['nchw', 'nhwc']).default('nchw'),
  })
  .strict();
export type ImagePreprocess = z.infer<typeof ImagePreprocess>;

export const TextTokenizer = z
  .object({
    /**
     * 'bytes': UTF-8 bytes as ids (offset by `byte_offset`), with optional BOS/EOS — for tiny test
     * models only. 'clip-bpe': the CLIP byte-pair encoder, reading `vocab` (vocab.json) and
     * `merges` (merges.txt) from the model's directory. SentencePiece (SigLIP text) is not supported.
     */
    kind: z.enum(['bytes', 'clip-bpe']),
    context_length: z.number().int().min(1).max(4096),
    bos: z.number().int().min(0).optional(),
    eos: z.number().int().min(0).optional(),
    pad: z.number().int().min(0).default(0),
    byte_offset: z.number().int().min(0).default(0),
    vocab: z.string().optional(),
    merges: z.string().optional(),
    /** Name of an attention-mask input, when the model takes one (1 for tokens, 0 for padding). */
    mask_input: z.string().optional(),
  })
  .strict()
  .refine((t) => t.kind !== 'clip-bpe' || (t.vocab && t.merges), {
    message: "tokenizer: kind 'clip-bpe' needs `vocab` (vocab.json) and `merges` (merges.txt) file names",
  });
export type TextTokenizer = z.infer<typeof TextTokenizer>;

export const ModelManifest = z
  .object({
    /** Stable name; part of the embedding cache key (with the file's content hash). */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'name: letters, digits, ".", "_" and "-" only' }),
    kind: z.enum(['image', 'text']),
    /** The ONNX file, relative to the manifest's directory. */
    file: z.string().default('model.onnx'),
    input: z.string(),
    output: z.string(),
    /** 'none': the output is [N, dim]; 'cls': take token 0 of [N, T, dim]; 'mean': average the tokens. */
    pooling: z.enum(['none', 'cls', 'mean']).default('none'),
    /** L2-normalise embeddings (cosine similarity becomes a dot product). */
    normalize: z.boolean().default(true),
    /** Expected embedding width; checked against the model's output when given. */
    dim: z.number().int().min(1).optional(),
    image: ImagePreprocess.optional(),
    tokenizer: TextTokenizer.optional(),
    /** For an image model: the name of the text tower embedding into the same space (text search). */
    text_model: z.string().optional(),
    /** Where the weights come from, for people installing it. */
    source: z.string().optional(),
  })
  .strict()
  .refine((m) => (m.kind === 'image' ? m.image !== undefined : m.tokenizer !== undefined), {
    message: "an image model needs an `image` block; a text model needs a `tokenizer` block",
  });
export type ModelManifest = z.infer<typeof ModelManifest>;

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Presets for common open encoders, with the preprocessing of their Hugging Face image processors.
 * Input/output names are those of an `optimum` / transformers ONNX export of the tower named in
 * `source`; a different export names its tensors in a `manifest.json` ({"preset": ..., "output": ...}).
 */
export const PRESETS: Record<string, ModelManifest> = {
  'clip-vit-b32': ModelManifest.parse({
    name: 'clip-vit-b32', kind: 'image', input: 'pixel_values', output: 'image_embeds', dim: 512,
    image: { size: 224, resize: 'shortest', resize_to: 224, interpolation: 'bicubic', mean: CLIP_MEAN, std: CLIP_STD },
    text_model: 'clip-vit-b32-text',
    source: 'openai/clip-vit-base-patch32, vision tower with projection (CLIPVisionModelWithProjection)',
  }),
  'clip-vit-b32-text': ModelManifest.parse({
    name: 'clip-vit-b32-text', kind: 'text', input: 'input_ids', output: 'text_embeds', dim: 512,
    tokenizer: {
      kind: 'clip-bpe', context_length: 77, bos: 49406, eos: 49407, pad: 49407,
      vocab: 'vocab.json', merges: 'merges.txt', mask_input: 'attention_mask',
    },
    source: 'openai/clip-vit-base-patch32, text tower with projection (CLIPTextModelWithProjection)',
  }),
  'dinov2-small': ModelManifest.parse({
    name: 'dinov2-small', kind: 'image', input: 'pixel_values', output: 'last_hidden_state', pooling: 'cls', dim: 384,
    image: { size: 224, resize: 'shortest', resize_to: 256, interpolation: 'bicubic', mean: IMAGENET_MEAN, std: IMAGENET_STD },
    source: 'facebook/dinov2-small (Dinov2Model); the CLS token of last_hidden_state',
  }),
  'siglip-base': ModelManifest.parse({
    name: 'siglip-base', kind: 'image', input: 'pixel_values', output: 'pooler_output', dim: 768,
    image: { size: 224, resize: 'squash', interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    source: 'google/siglip-base-patch16-224, vision tower (SiglipVisionModel); its text tower needs SentencePiece, which imgsift does not support',
  }),
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/**
 * A `manifest.json`: either a full manifest, or `{"preset": NAME, ...overrides}`.
 * Returns the manifest, or throws a ZodError-derived message naming the field.
 */
export function parseManifest(value: unknown, where: string): ModelManifest {
  let v = value;
  if (v && typeof v === 'object' && !Array.isArray(v) && 'preset' in v) {
    const { preset, ...rest } = v as Record<string, unknown>;
    const base = typeof preset === 'string' ? PRESETS[preset] : undefined;
    if (!base) throw new Error(`${where}: unknown preset ${JSON.stringify(preset)}; presets: ${presetNames().join(', ')}`);
    v = { ...base, name: base.name, ...rest };
  }
  const parsed = ModelManifest.safeParse(v);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const path = i.path.length ? `${i.path.join('.')}: ` : '';
    throw new Error(`${where}: ${path}${i.message}`);
  }
  return parsed.data;
}
