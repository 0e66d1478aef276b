import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ImgsiftError, errorMessage } from '../errors.js';
import type { ModelManifest } from './manifest.js';
import type { ResolvedModel } from './models-dir.js';
import { preprocessImage } from './preprocess.js';
import { createTokenizer, type Tokenizer } from './tokenizer.js';

/**
 * An ONNX encoder on CPU (onnxruntime-node): images or texts in, one embedding each out, pooled
 * and (by default) L2-normalised as the manifest says. onnxruntime is imported on first use, so
 * commands that never embed do not load it.
 */

export interface EncoderOptions {
  /** Intra-op threads (default 1: the worker pool already spreads work over the cores). */
  threads?: number;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;
const loadOrt = () => (ortModule ??= import('onnxruntime-node'));

export class Encoder {
  private tokenizer?: Tokenizer;

  private constructor(
    readonly model: ResolvedModel,
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {}

  get manifest(): ModelManifest {
    return this.model.manifest;
  }

  static async load(model: ResolvedModel, options: EncoderOptions = {}): Promise<Encoder> {
    const ort = await loadOrt();
    const m = model.manifest;
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.path, {
        intraOpNumThreads: options.threads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new ImgsiftError(`cannot load ONNX model ${model.path} (${m.name}): ${errorMessage(err).split('\n')[0]}; is it a complete .onnx file?`);
    }
    const need: Array<[string, readonly string[], string]> = [
      [m.input, session.inputNames, 'input'],
      [m.output, session.outputNames, 'output'],
    ];
    for (const [name, names, what] of need) {
      if (!names.includes(name)) {
        throw new ImgsiftError(
          `model ${model.path} has no ${what} '${name}' (its ${what}s: ${names.join(', ')}); set "${what}" in its manifest.json`,
        );
      }
    }
    const enc = new Encoder(model, ort, session);
    if (m.kind === 'text') enc.tokenizer = createTokenizer(m.tokenizer!, model.dir);
    return enc;
  }

  /** Embed encoded images (any format sharp reads), as one batch; throws if any image is unreadable. */
  async embedImages(images: Buffer[]): Promise<Float32Array[]> {
    const out = await this.embedImagesEach(images);
    const bad = out.find((v) => v instanceof Error);
    if (bad) throw bad;
    return out as Float32Array[];
  }

  /**
   * Embed encoded images as one inference batch; an image that cannot be read or preprocessed
   * gets its Error in its place and the others are embedded all the same.
   */
  async embedImagesEach(images: Buffer[]): Promise<Array<Float32Array | Error>> {
    const p = this.manifest.image;
    if (!p) throw new ImgsiftError(`model ${this.manifest.name} is a ${this.manifest.kind} model, not an image model`);
    const pixels = await Promise.all(
      images.map((img) => preprocessImage(img, p).then((r) => r.data, (err: unknown) => (err instanceof Error ? err : new Error(errorMessage(err))))),
    );
    const good = pixels.filter((x): x is Float32Array => !(x instanceof Error));
    if (good.length === 0) return pixels as Error[];
    const per = 3 * p.size * p.size;
    const batch = new Float32Array(per * good.length);
    good.forEach((x, i) => batch.set(x, i * per));
    const dims = p.layout === 'nchw' ? [good.length, 3, p.size, p.size] : [good.length, p.size, p.size, 3];
    const vectors = await this.run({ [this.manifest.input]: new this.ort.Tensor('float32', batch, dims) }, good.length);
    let next = 0;
    return pixels.map((x) => (x instanceof Error ? x : vectors[next++]));
  }

  /** Embed texts with a text tower, as one batch. */
  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    const tok = this.tokenizer;
    if (!tok) throw new ImgsiftError(`model ${this.manifest.name} is an ${this.manifest.kind} model, not a text model`);
    if (texts.length === 0) return [];
    const L = tok.contextLength;
    const ids = new BigInt64Array(L * texts.length);
    const mask = new BigInt64Array(L * texts.length);
    texts.forEach((t, i) => {
      const e = tok.encode(t);
      ids.set(e.ids, i * L);
      mask.set(e.mask, i * L);
    });
    const feeds: Record<string, Tensor> = { [this.manifest.input]: new this.ort.Tensor('int64', ids, [texts.length, L]) };
    // An export made without an attention mask runs without one.
    const maskName = this.manifest.tokenizer?.mask_input;
    if (maskName && this.session.inputNames.includes(maskName)) feeds[maskName] = new this.ort.Tensor('int64', mask, [texts.length, L]);
    return this.run(feeds, texts.length);
  }

  private async run(feeds: Record<string, Tensor>, n: number): Promise<Float32Array[]> {
    const m = this.manifest;
    let out: Tensor;
    try {
      out = (await this.session.run(feeds, [m.output]))[m.output];
    } catch (err) {
      throw new Error(`inference with ${m.name} failed: ${errorMessage(err).split('\n')[0]}`);
    }
    if (out.type !== 'float32') throw new Error(`model output '${m.output}' is ${out.type}, expected float32`);
    const data = out.data as Float32Array;
    const dims = out.dims.map(Number);
    const vectors = pool(data, dims, m.pooling, n, m.output);
    for (const v of vectors) {
      if (m.dim !== undefined && v.length !== m.dim) {
        throw new Error(`model output '${m.output}' has ${v.length} values per item, the manifest says dim ${m.dim}`);
      }
      if (m.normalize) l2normalize(v);
    }
    return vectors;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Split a batch output into one vector per item, pooling token outputs. */
export function pool(data: Float32Array, dims: number[], pooling: ModelManifest['pooling'], n: number, name = 'output'): Float32Array[] {
  if (dims[0] !== n) throw new Error(`model output '${name}' has batch size ${dims[0]}, expected ${n}`);
  const out: Float32Array[] = [];
  if (pooling === 'none') {
    if (dims.length !== 2) throw new Error(`model output '${name}' has shape [${dims}]; with pooling 'none' it must be [batch, dim] (use pooling 'cls' or 'mean' for token outputs)`);
    const d = dims[1];
    for (let i = 0; i < n; i++) out.push(data.slice(i * d, (i + 1) * d));
    return out;
  }
  if (dims.length !== 3) throw new Error(`model output '${name}' has shape [${dims}]; pooling '${pooling}' needs [batch, tokens, dim]`);
  const [, t, d] = dims;
  for (let i = 0; i < n; i++) {
    const base = i * t * d;
    if (pooling === 'cls') {
      out.push(data.slice(base, base + d));
      continue;
    }
    const v = new Float32Array(d);
    for (let k = 0; k < t; k++) for (let j = 0; j < d; j++) v[j] += data[base + k * d + j];
    for (let j = 0; j < d; j++) v[j] /= t;
    out.push(v);
  }
  return out;
}

export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const norm = Math.sqrt(s);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

const encoders = new Map<string, Promise<Encoder>>();

/**
 * The encoder of a model, loaded once per thread and kept (worker threads embed sample after
 * sample with the same session). Keyed by the model id, so a changed file loads afresh.
 */
export function getEncoder(model: ResolvedModel, options: EncoderOptions = {}): Promise<Encoder> {
  const key = `${model.id}|${model.path}|${options.threads ?? 1}`;
  let e = encoders.get(key);
  if (!e) {
    e = Encoder.load(model, options);
    encoders.set(key, e);
    // A failed load is not cached: the next sample retries (and reports the same clear error).
    e.catch(() => encoders.delete(key));
  }
  return e;
}
