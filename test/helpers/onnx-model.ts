import protobuf from 'protobufjs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { rng } from '../../src/demo/synth.js';

/**
 * Tiny ONNX models built by the tests themselves (no downloads): the subset of onnx.proto needed
 * to write a ModelProto, encoded with protobufjs. Field numbers follow onnx/onnx.proto (IR 8).
 */
const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto {
  string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5;
  repeated float floats = 7; repeated int64 ints = 8; int32 type = 20;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
  repeated AttributeProto attribute = 5; string domain = 7;
}
message ModelProto {
  int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4;
  repeated int64 int64_data = 7; string name = 8; bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { int64 dim_value = 1; string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  Tensor tensor_type = 1;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
`;

const root = protobuf.parse(ONNX_PROTO).root;
const ModelProto = root.lookupType('onnx.ModelProto');

export const FLOAT = 1;
export const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, TENSOR: 4, INTS: 7 } as const;

type Dim = number | string;
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[] | { floatValue: number }>;
}
export interface Initializer {
  name: string;
  dims: number[];
  /** float32 values, or int64 when `int64` is set. */
  values: number[] | Float32Array;
  int64?: boolean;
}
export interface GraphSpec {
  inputs: Array<{ name: string; elem: number; shape: Dim[] }>;
  outputs: Array<{ name: string; elem: number; shape: Dim[] }>;
  nodes: NodeSpec[];
  initializers: Initializer[];
  opset?: number;
}

function valueInfo(v: { name: string; elem: number; shape: Dim[] }) {
  return {
    name: v.name,
    type: { tensorType: { elemType: v.elem, shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: number | number[] | { floatValue: number }) {
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  if (typeof v === 'object') return { name, type: ATTR.FLOAT, f: v.floatValue };
  return { name, type: ATTR.INT, i: v };
}

/** Serialise a graph as an ONNX ModelProto (IR version 8, default opset 17). */
export function encodeModel(g: GraphSpec): Buffer {
  const msg = ModelProto.fromObject({
    irVersion: 8,
    producerName: 'imgsift-tests',
    opsetImport: [{ domain: '', version: g.opset ?? 17 }],
    graph: {
      name: 'tiny',
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: g.initializers.map((t) => {
        if (t.int64) return { name: t.name, dims: t.dims, dataType: INT64, int64Data: [...t.values] };
        const raw = Buffer.from(Float32Array.from(t.values).buffer);
        return { name: t.name, dims: t.dims, dataType: FLOAT, rawData: raw };
      }),
      node: g.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return Buffer.from(ModelProto.encode(msg).finish());
}

/** A fixed pseudo-random matrix (rows × cols, row-major), scaled by 1/sqrt(rows). */
export function projection(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < m.length; i++) {
    // Sum of uniforms: cheap, roughly Gaussian.
    m[i] = (r() + r() + r() + r() - 2) * Math.sqrt(3) / Math.sqrt(rows);
  }
  return m;
}

export interface TinyImageModelOptions {
  /** Square input side (default 32). */
  size?: number;
  /** Embedding width (default 32). */
  dim?: number;
  /** Grid of the colour layout (default 4: 4×4 cells × 3 channels). */
  grid?: number;
  /** Input and output names (default pixel_values → image_embeds). */
  input?: string;
  output?: string;
  /** 'embeds': output [N, dim]; 'tokens': output [N, grid², dim], one token per grid cell (for pooling). */
  shape?: 'embeds' | 'tokens';
  seed?: number;
}

/**
 * An image "encoder": colour layout (AveragePool to a grid) plus texture energy (a fixed 3×3
 * Conv of luminance gradients, Abs, GlobalAveragePool), concatenated and projected by a fixed
 * random matrix. Input NCHW float [N, 3, size, size]; output [N, dim] (or grid tokens).
 */
export function tinyImageModel(o: TinyImageModelOptions = {}): Buffer {
  const size = o.size ?? 32;
  const dim = o.dim ?? 32;
  const grid = o.grid ?? 4;
  const input = o.input ?? 'pixel_values';
  const output = o.output ?? 'image_embeds';
  const cell = size / grid;
  if (!Number.isInteger(cell)) throw new Error('size must be a multiple of grid');
  // Texture filters on luminance: horizontal, vertical, Laplacian (same kernel on each channel / 3).
  const kernels = [
    [-1, 0, 1, -2, 0, 2, -1, 0, 1],
    [-1, -2, -1, 0, 0, 0, 1, 2, 1],
    [0, 1, 0, 1, -4, 1, 0, 1, 0],
  ];
  const convW: number[] = [];
  for (const k of kernels) for (let c = 0; c < 3; c++) convW.push(...k.map((v) => v / 3));
  const pool: NodeSpec = { op: 'AveragePool', inputs: [input], outputs: ['grid'], attrs: { kernel_shape: [cell, cell], strides: [cell, cell] } };
  if ((o.shape ?? 'embeds') === 'tokens') {
    // grid [N,3,g,g] → [N,3,g²] → [N,g²,3] → MatMul [3,dim] → [N,g²,dim].
    return encodeModel({
      inputs: [{ name: input, elem: FLOAT, shape: ['batch', 3, size, size] }],
      outputs: [{ name: output, elem: FLOAT, shape: ['batch', grid * grid, dim] }],
      nodes: [
        pool,
        { op: 'Reshape', inputs: ['grid', 'tok_shape'], outputs: ['grid_flat'] },
        { op: 'Transpose', inputs: ['grid_flat'], outputs: ['tokens_in'], attrs: { perm: [0, 2, 1] } },
        { op: 'MatMul', inputs: ['tokens_in', 'tok_proj'], outputs: [output] },
      ],
      initializers: [
        { name: 'tok_shape', dims: [3], values: [0, 3, grid * grid], int64: true },
        { name: 'tok_proj', dims: [3, dim], values: projection(3, dim, o.seed ?? 7) },
      ],
    });
  }
  const nodes: NodeSpec[] = [
    pool,
    { op: 'Conv', inputs: [input, 'conv_w'], outputs: ['edges'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: 'Abs', inputs: ['edges'], outputs: ['edges_abs'] },
    { op: 'GlobalAveragePool', inputs: ['edges_abs'], outputs: ['texture'] },
  ];
  const features = 3 * grid * grid;
  const initializers: Initializer[] = [{ name: 'conv_w', dims: [3, 3, 3, 3], values: convW }];
  initializers.push({ name: 'proj', dims: [features + 3, dim], values: projection(features + 3, dim, o.seed ?? 7) });
  nodes.push(
    { op: 'Flatten', inputs: ['grid'], outputs: ['grid_vec'] },
    { op: 'Flatten', inputs: ['texture'], outputs: ['texture_vec'] },
    { op: 'Concat', inputs: ['grid_vec', 'texture_vec'], outputs: ['features'], attrs: { axis: 1 } },
    { op: 'MatMul', inputs: ['features', 'proj'], outputs: [output] },
  );
  return encodeModel({
    inputs: [{ name: input, elem: FLOAT, shape: ['batch', 3, size, size] }],
    outputs: [{ name: output, elem: FLOAT, shape: ['batch', dim] }],
    nodes,
    initializers,
  });
}

/** A model that returns its input unchanged: shows exactly what preprocessing fed it. */
export function identityModel(shape: Dim[], input = 'pixel_values', output = 'image_embeds'): Buffer {
  return encodeModel({
    inputs: [{ name: input, elem: FLOAT, shape }],
    outputs: [{ name: output, elem: FLOAT, shape }],
    nodes: [{ op: 'Identity', inputs: [input], outputs: [output] }],
    initializers: [],
  });
}

/**
 * A text "encoder": token ids [N, L] int64 → Gather from a fixed embedding table (vocab × dim)
 * → ReduceMean over tokens → [N, dim]. With a byte-level tokenizer, texts sharing bytes embed close.
 */
export function tinyTextModel(o: { vocab?: number; dim?: number; input?: string; output?: string; seed?: number; zeroRows?: number[] } = {}): Buffer {
  const vocab = o.vocab ?? 260;
  const dim = o.dim ?? 32;
  const table = projection(vocab, dim, o.seed ?? 11);
  // A zero row (the padding id) adds nothing to the mean, so padding does not pull texts together.
  for (const r of o.zeroRows ?? []) table.fill(0, r * dim, (r + 1) * dim);
  const input = o.input ?? 'input_ids';
  const output = o.output ?? 'text_embeds';
  return encodeModel({
    inputs: [{ name: input, elem: INT64, shape: ['batch', 'tokens'] }],
    outputs: [{ name: output, elem: FLOAT, shape: ['batch', dim] }],
    nodes: [
      { op: 'Gather', inputs: ['table', input], outputs: ['tok'], attrs: { axis: 0 } },
      // opset 17: ReduceMean takes axes as an attribute.
      { op: 'ReduceMean', inputs: ['tok'], outputs: [output], attrs: { axes: [1], keepdims: 0 } },
    ],
    initializers: [{ name: 'table', dims: [vocab, dim], values: table }],
  });
}

export async function writeModel(path: string, bytes: Buffer): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return path;
}
