/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks, registered for 'wasm'.
 *
 * Found by running tf.grad / tf.variableGrads on the wasm backend through every op the search
 * spaces use (gather, matMul 2-D/3-D with and without transpose flags, transpose, softmax,
 * logSoftmax, the unary activations, broadcasting arithmetic, mean/sum/moments, reshape, concat,
 * slice, stack, pad, where/greater, oneHot, clipByValue, sign, erf, depthwiseConv2d, conv1d,
 * losses.softmaxCrossEntropy, ...) and collecting "Kernel 'X' not registered for backend 'wasm'".
 * Only these were missing; test/evaluators/backend.test.ts repeats the sweep:
 *
 *   UnsortedSegmentSum                   gradient of gather (embeddings)
 *   DepthwiseConv2dNativeBackpropInput   gradient of depthwiseConv2d w.r.t. its input
 *   DepthwiseConv2dNativeBackpropFilter  gradient of depthwiseConv2d w.r.t. its filter
 *   Conv2DBackpropFilter                 gradient of conv1d / conv2d w.r.t. the filter
 *
 * The depthwise pair is on the conv mixer's training path, so its common case (stride 1,
 * dilation 1, channel multiplier 1) is rewritten as forward depthwise convolutions, which the
 * wasm backend runs in XNNPACK; other cases and Conv2DBackpropFilter run the CPU backend's kernel
 * on copies of the inputs.
 *
 * The CPU backend has UnsortedSegmentSum, but at O(numSegments · size) it makes embeddings
 * unusable there; registerCpuSegmentSum() replaces it with the same one-pass loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

interface Conv2DAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: 'valid' | 'same' | number | Pad4;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Names of the kernels this module registers (whether or not a given call had to). */
export const WASM_GRADIENT_KERNELS = [
  'UnsortedSegmentSum',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'Conv2DBackpropFilter',
] as const;

/**
 * Registers the kernels above for 'wasm' where none is registered yet; returns the names it
 * registered. Idempotent. None of these kernels has a setupFunc, so registering them before or
 * after the wasm backend initialises is equally fine.
 */
export function registerWasmGradientKernels(): string[] {
  const funcs: Record<(typeof WASM_GRADIENT_KERNELS)[number], tf.KernelFunc> = {
    UnsortedSegmentSum: unsortedSegmentSum,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
    Conv2DBackpropFilter: onCpu('Conv2DBackpropFilter'),
  };
  const registered: string[] = [];
  for (const kernelName of WASM_GRADIENT_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: funcs[kernelName] });
    registered.push(kernelName);
  }
  return registered;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function wasmArgs(args: KernelArgs): { backend: BackendWasm; inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap } {
  return { backend: args.backend as BackendWasm, inputs: args.inputs, attrs: args.attrs ?? {} };
}

/** TF semantics: segmentIds' shape is a prefix of x's; out-of-range ids are dropped. */
function segmentSumShape(x: tf.TensorInfo, segmentIds: tf.TensorInfo, numSegments: number) {
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  return { outShape, rows: tf.util.sizeFromShape(segmentIds.shape), inner: tf.util.sizeFromShape(outShape.slice(1)) };
}

/** Adds row r of src into row ids[r] of dst (which must start zeroed): one pass over the input. */
function segmentSumInto(dst: tf.TypedArray, src: tf.TypedArray, ids: tf.TypedArray, rows: number, inner: number, numSegments: number): void {
  for (let r = 0; r < rows; r++) {
    const s = ids[r]! | 0;
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner;
    const i = r * inner;
    for (let j = 0; j < inner; j++) dst[o + j] += src[i + j]!;
  }
}

function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const { backend, inputs, attrs } = wasmArgs(args);
  const x = inputs.x!;
  const segmentIds = inputs.segmentIds!;
  const numSegments = attrs.numSegments as number;
  const { outShape, rows, inner } = segmentSumShape(x, segmentIds, numSegments);
  const out = backend.makeOutput(outShape, x.dtype);
  // Heap views only after makeOutput: an allocation can grow the wasm memory and detach older views.
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0); // malloc'd memory is not zeroed
  segmentSumInto(dst, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(segmentIds), rows, inner, numSegments);
  return out;
}

interface CpuBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
}

function cpuUnsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const x = args.inputs.x!;
  const segmentIds = args.inputs.segmentIds!;
  const numSegments = args.attrs!.numSegments as number;
  const { outShape, rows, inner } = segmentSumShape(x, segmentIds, numSegments);
  const dst = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  const src = backend.readSync(x.dataId) as tf.TypedArray;
  segmentSumInto(dst, src, backend.readSync(segmentIds.dataId) as tf.TypedArray, rows, inner, numSegments);
  return backend.makeTensorInfo(outShape, x.dtype, dst);
}

/**
 * Replaces the CPU backend's UnsortedSegmentSum, which builds a mask per segment and so costs
 * O(numSegments · size): ~30 s for the gradient of one [2048, 128] gather from a 1,024-row table,
 * against ~3 ms here. Keeps the original's setupFunc / disposeFunc (it has none in tfjs 4.22).
 * Idempotent; returns whether it replaced the kernel.
 */
export function registerCpuSegmentSum(): boolean {
  const existing = tf.getKernel('UnsortedSegmentSum', 'cpu');
  if (existing?.kernelFunc === cpuUnsortedSegmentSum) return false;
  if (existing !== undefined) tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'cpu',
    kernelFunc: cpuUnsortedSegmentSum,
    ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    ...(existing?.disposeFunc ? { disposeFunc: existing.disposeFunc } : {}),
  });
  return true;
}

/** Runs an existing wasm kernel directly (not through the engine, so nothing lands on the tape). */
function runWasm(backend: BackendWasm, kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`wasm kernel ${kernelName} is not registered`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
}

function reshape(backend: BackendWasm, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return runWasm(backend, 'Reshape', { x }, { shape });
}

function release(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function convInfo(xShape: number[], filterShape: number[], attrs: Conv2DAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/** Stride 1, no dilation, one output channel per input channel: the case XNNPACK can do for us. */
function isPlainDepthwise(info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 &&
    info.dilationWidth === 1 && info.outChannels === info.inChannels && info.dataFormat === 'channelsLast';
}

/** dx is the correlation of dy with the filter flipped in space, padded by (f - 1 - pad). */
function depthwiseBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { backend, inputs, attrs } = wasmArgs(args);
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  const a = attrs as unknown as Conv2DAttrs & { inputShape: number[] };
  const info = convInfo(a.inputShape, filter.shape, a);
  const { top, bottom, left, right } = info.padInfo;
  const fh = info.filterHeight;
  const fw = info.filterWidth;
  const pads = [fh - 1 - top, fh - 1 - bottom, fw - 1 - left, fw - 1 - right];
  if (!isPlainDepthwise(info) || pads.some((p) => p < 0)) return onCpu('DepthwiseConv2dNativeBackpropInput')(args) as tf.TensorInfo;
  const flipped = runWasm(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
  const dx = runWasm(backend, 'DepthwiseConv2dNative', { x: dy, filter: flipped }, {
    strides: 1, dilations: 1, pad: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]],
  });
  release(backend, flipped);
  return dx;
}

/**
 * dW[i, j, c] = Σ_b Σ_y Σ_x xPadded[b, y + i, x + j, c] · dy[b, y, x, c]: a valid depthwise
 * correlation of x with dy as the filter, once the batch is folded into something the forward
 * kernel sums over. With a 1-row input (a sequence as [B, 1, T, C]) the batch becomes the row
 * axis, a pure reshape; otherwise it becomes part of the channel axis and is summed afterwards.
 */
function depthwiseBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { backend, inputs, attrs } = wasmArgs(args);
  const x = inputs.x!;
  const dy = inputs.dy!;
  const a = attrs as unknown as Conv2DAttrs & { filterShape: number[] };
  const info = convInfo(x.shape, a.filterShape, a);
  if (!isPlainDepthwise(info)) return onCpu('DepthwiseConv2dNativeBackpropFilter')(args) as tf.TensorInfo;
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { top, bottom, left, right } = info.padInfo;
  const fh = info.filterHeight;
  const fw = info.filterWidth;

  if (H === 1 && fh === 1) {
    const xs = reshape(backend, x, [1, B, W, C]);
    const dys = reshape(backend, dy, [B, OW, C, 1]);
    const dw = runWasm(backend, 'DepthwiseConv2dNative', { x: xs, filter: dys }, {
      strides: 1, dilations: 1, pad: [[0, 0], [0, 0], [left, right], [0, 0]],
    });
    const out = reshape(backend, dw, [fh, fw, C, 1]);
    release(backend, xs, dys, dw);
    return out;
  }

  // Channels ordered (c, b) so that the final sum over b runs along the innermost axis.
  const x3 = reshape(backend, x, [B, H * W, C]);
  const xt = runWasm(backend, 'Transpose', { x: x3 }, { perm: [1, 2, 0] });
  const xs = reshape(backend, xt, [1, H, W, C * B]);
  const dy3 = reshape(backend, dy, [B, OH * OW, C]);
  const dyt = runWasm(backend, 'Transpose', { x: dy3 }, { perm: [1, 2, 0] });
  const dys = reshape(backend, dyt, [OH, OW, C * B, 1]);
  const dw = runWasm(backend, 'DepthwiseConv2dNative', { x: xs, filter: dys }, {
    strides: 1, dilations: 1, pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
  });
  const dw2 = reshape(backend, dw, [fh * fw * C, B]);
  const summed = runWasm(backend, 'Sum', { x: dw2 }, { axis: [1], keepDims: false });
  const out = reshape(backend, summed, [fh, fw, C, 1]);
  release(backend, x3, xt, xs, dy3, dyt, dys, dw, dw2, summed);
  return out;
}

/**
 * A wasm kernel that runs the CPU backend's implementation on copies of its inputs: fine for
 * kernels that are rare in a training step, exact by construction.
 */
function onCpu(kernelName: string): tf.KernelFunc {
  return (args) => {
    const { backend, inputs, attrs } = wasmArgs(args);
    const kernel = tf.getKernel(kernelName, 'cpu');
    const cpu = tf.findBackend('cpu');
    if (kernel === undefined || cpu == null) {
      throw new Error(`${kernelName} on wasm falls back to the cpu backend, which is not available`);
    }
    // The CPU backend prints a "use tfjs-node" banner on its first write; here it is only a helper.
    (cpu as unknown as { firstUse?: boolean }).firstUse = false;
    const cpuInputs: tf.NamedTensorInfoMap = {};
    for (const [name, t] of Object.entries(inputs)) {
      if (t === undefined) continue;
      cpuInputs[name] = { dataId: cpu.write(backend.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    }
    try {
      const result = kernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outs = Array.isArray(result) ? result : [result];
      const copied = outs.map((o) => {
        const values = cpu.readSync(o.dataId);
        cpu.disposeData(o.dataId);
        return backend.makeOutput(o.shape, o.dtype, undefined, values);
      });
      return Array.isArray(result) ? copied : copied[0]!;
    } finally {
      for (const t of Object.values(cpuInputs)) if (t !== undefined) cpu.disposeData(t.dataId);
    }
  };
}
