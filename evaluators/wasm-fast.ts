import * as tf from '@tensorflow/tfjs-core';

/**
 * Speed overrides for the wasm backend's BatchMatMul, from measurements on a 2-core machine
 * (tfjs-backend-wasm 4.22; the figures are in bench/RESULTS.md):
 *
 *  - With a transpose flag it is 10-25x slower: `[2048,512]^T x [2048,128]` takes ~180 ms with
 *    transposeA but ~15 ms as an explicit Transpose and a plain matmul. Every matmul gradient uses
 *    the flags, so the backward pass ran ~10x slower than the forward.
 *  - With a batch dimension > 1 it leaves XNNPACK for a plain loop: `[32,64,64] x [32,64,64]` runs
 *    at ~2 GFLOP/s, while one `[2048,128] x [128,128]` runs at ~22. Attention is all such batched
 *    products, so batched calls are split into batch-1 products, which XNNPACK runs.
 *
 * The override keeps the original kernel's setupFunc (where the wasm backend binds its C++ entry
 * points) and calls the original kernelFunc for every product it runs.
 */

type KernelFunc = tf.KernelConfig['kernelFunc'];

interface WasmBackendLike extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** Batched products with at least this many output elements per item stay in one call. */
const SPLIT_BELOW = 1 << 20;

let installed = false;

export function installWasmFastPaths(): boolean {
  if (installed) return true;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  if (!original || !transposeKernel) return false;
  installed = true;
  const matmul = original.kernelFunc as KernelFunc;
  const transpose = transposeKernel.kernelFunc as KernelFunc;

  const swapLast = (x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo => {
    const r = x.shape.length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return transpose({ inputs: { x }, backend, attrs: { perm } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
  };

  const plain = { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;

  /** a [.., M, K] x b [.., K, N] as one batch-1 XNNPACK product per batch item. */
  const splitBatches = (a: tf.TensorInfo, b: tf.TensorInfo, backend: WasmBackendLike): tf.TensorInfo | undefined => {
    const [M, K] = a.shape.slice(-2);
    const N = b.shape[b.shape.length - 1];
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    if (batch <= 1 || (batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
    if (a.shape.length !== b.shape.length && batchA > 1 && batchB > 1) return undefined;
    const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), M, N];
    const out = backend.makeOutput(outShape, 'float32');
    const take = (x: tf.TensorInfo, n: number, rows: number, cols: number, i: number): tf.TensorInfo => {
      const item = backend.makeOutput([1, rows, cols], 'float32');
      // views are taken after every allocation: a growing wasm heap detaches older ones
      backend.typedArrayFromHeap(item).set(backend.typedArrayFromHeap(x).subarray(n === 1 ? 0 : i * rows * cols, (n === 1 ? 1 : i + 1) * rows * cols));
      return item;
    };
    let sharedA: tf.TensorInfo | undefined;
    let sharedB: tf.TensorInfo | undefined;
    if (batchA === 1) sharedA = take(a, 1, M, K, 0);
    if (batchB === 1) sharedB = take(b, 1, K, N, 0);
    for (let i = 0; i < batch; i++) {
      const ai = sharedA ?? take(a, batchA, M, K, i);
      const bi = sharedB ?? take(b, batchB, K, N, i);
      const oi = matmul({ inputs: { a: ai, b: bi }, backend, attrs: plain }) as tf.TensorInfo;
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(oi), i * M * N);
      backend.disposeData(oi.dataId);
      if (!sharedA) backend.disposeData(ai.dataId);
      if (!sharedB) backend.disposeData(bi.dataId);
    }
    if (sharedA) backend.disposeData(sharedA.dataId);
    if (sharedB) backend.disposeData(sharedB.dataId);
    return out;
  };

  const kernelFunc: KernelFunc = ({ inputs, backend: be, attrs }) => {
    const backend = be as WasmBackendLike;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const temps: tf.TensorInfo[] = [];
    let a = inputs.a as tf.TensorInfo;
    let b = inputs.b as tf.TensorInfo;
    if (transposeA) temps.push((a = swapLast(a, backend)));
    if (transposeB) temps.push((b = swapLast(b, backend)));
    const M = a.shape[a.shape.length - 2];
    const N = b.shape[b.shape.length - 1];
    const out =
      (M * N < SPLIT_BELOW ? splitBatches(a, b, backend) : undefined) ??
      (matmul({ inputs: { a, b }, backend, attrs: plain }) as tf.TensorInfo);
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...original, kernelFunc });
  installSharingCopies();
  return true;
}

/**
 * The engine clones every tensor a gradient needs (Identity) and casts each such gradient back to
 * float32 (Cast). The wasm kernels copy the data for both; tensors are immutable, so sharing the
 * buffer with a reference count is enough, as the cpu backend does. In a 2-layer BERT training step
 * this removed ~190 copies of up to 4 MB each.
 */
function installSharingCopies(): void {
  const share = (x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo => {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  /** Replace a wasm kernel, keeping its setupFunc; `fn` gets the original to fall back on. */
  const wrap = (name: string, fn: (args: Parameters<KernelFunc>[0], original: KernelFunc) => ReturnType<KernelFunc>) => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) return;
    const original = k.kernelFunc as KernelFunc;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: (args) => fn(args, original) });
  };
  wrap('Identity', (args, original) => {
    const x = args.inputs.x as tf.TensorInfo;
    return x.dtype === 'string' ? original(args) : share(x, args.backend as tf.KernelBackend);
  });
  wrap('Cast', (args, original) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    return x.dtype === dtype ? share(x, args.backend as tf.KernelBackend) : original(args);
  });
}
