// The `cuda` tfjs backend: tensors live in GPU memory (from the stream-ordered pool: their values, and
// a bfloat16 copy for the products that read them, or that copy alone — kernels/bf16.ts), kernels are
// NVRTC-compiled CUDA C launched on one stream, and reading a tensor back is the only point that waits
// for the GPU.
import * as tf from '@tensorflow/tfjs';
import { compileModule } from './compile.js';
import { Cublas, type Gemm, type MatmulPrecision } from './ffi/cublas.js';
import { Driver, type Handle, type KernelArg } from './ffi/driver.js';
import { Nvrtc } from './ffi/nvrtc.js';
import { FROM_BF16_SOURCE } from './kernels/bf16.js';
import { FILL_SOURCE } from './kernels/layout.js';

/** What the backend keeps for each tensor's data. */
interface DeviceData {
  /** The float32 (or int32) values; 0n while a tensor is kept in bfloat16 only (see allocateBf16()). */
  ptr: bigint;
  bytes: number;
  dtype: tf.DataType;
  size: number;
  /** What a fused kernel keeps with its output for the backward pass, in an allocation of its own (see tail()). */
  tail?: { ptr: bigint; bytes: number };
  refCount: number;
  /** A bfloat16 copy of the values, kept for the readers that take bfloat16 (see bf16Of()); the only data while ptr is 0n. */
  bf16?: bigint;
}

const BLOCK = 256;

/**
 * The kernels of some tfjs work recorded once as a CUDA graph (see CudaBackend.capture): replay() queues
 * them all again with one driver call, on the same memory — inputs refilled in place (overwrite()) give
 * new outputs in the tensors it copies them into (copyInto()).
 */
export class CudaGraph {
  constructor(private readonly backend: CudaBackend, private readonly handles: { graph: unknown; exec: unknown }) {}

  replay(): void {
    this.backend.driver.launchGraph(this.handles.exec, this.backend.stream);
  }

  /** Free the graph. */
  dispose(): void {
    this.backend.driver.destroyGraph(this.handles.graph, this.handles.exec);
  }
}

/** A tfjs KernelBackend on one NVIDIA GPU. */
export class CudaBackend extends tf.KernelBackend {
  readonly driver: Driver;
  readonly arch: string;
  readonly deviceName: string;
  readonly stream: Handle;
  readonly multiprocessors: number;
  /** Shared memory of one multiprocessor, in bytes (what its resident blocks split between them). */
  readonly sharedPerMultiprocessor: number;
  /** The most shared memory one block may have, in bytes (opting in above 48 KB). */
  readonly sharedPerBlock: number;
  private readonly nvrtc: Nvrtc;
  private readonly data: tf.DataStorage<DeviceData>;
  private readonly modules = new Map<string, { module: Handle; functions: Map<string, Handle> }>(); // source → its loaded module, and kernel name → function
  private readonly bigShared = new Map<Handle, number>(); // a kernel's shared-memory opt-in, in bytes
  private readonly waves = new Map<Handle, Map<string, number>>(); // blocksAWave()'s answers by kernel, then block/shared bytes
  private bytesInUse = 0;
  /** Sizes of the scratch allocations not yet released. */
  private readonly scratchBytes = new Map<bigint, number>();
  private peakBytes = 0;
  private blas: Cublas | null = null;
  /** What is being recorded as a CUDA graph, while it is (no host copies then). */
  private capturing: string | null = null;
  /** While capturing: the memory allocated since the capture began, not yet freed (it belongs to the graph). */
  private capturedAllocations = new Set<bigint>();
  /** Precision of BatchMatMul (tests use fp32; training bf16 or tf32). */
  matmulPrecision: MatmulPrecision = 'fp32';
  /** Milliseconds the host has waited for the GPU in reads (readSync): the rest of a step's wall time is the host's own work. */
  waitedMs = 0;
  /** Tensors kept in bfloat16 only whose float32 values a reader asked for (pointer()): each a conversion the storage choice did not foresee. */
  float32Made = 0;
  /** While timeLaunches() runs: events around each kernel and product, with what it was. */
  private launchEvents: { label: string; start: Handle; end: Handle }[] | null = null;

  /** On GPU `ordinal` of this machine (a data-parallel rank's LOCAL_RANK; 0 otherwise). */
  constructor(driver: Driver = new Driver(), readonly ordinal = 0) {
    super();
    this.driver = driver;
    const count = driver.deviceCount();
    if (count === 0) throw new Error('cuda backend: the CUDA driver reports no GPU');
    if (ordinal >= count) throw new Error(`cuda backend: GPU ${ordinal} asked for, but the driver reports ${count} GPU${count === 1 ? '' : 's'} (0–${count - 1})`);
    const info = driver.deviceInfo(ordinal);
    this.arch = info.arch;
    this.deviceName = info.name;
    this.multiprocessors = info.multiprocessors;
    this.sharedPerMultiprocessor = info.sharedPerMultiprocessor;
    this.sharedPerBlock = info.sharedPerBlock;
    this.stream = driver.open(ordinal).stream;
    this.nvrtc = new Nvrtc();
    this.data = new tf.DataStorage(this, tf.engine());
  }

  /**
   * A new tensor's device memory (every dtype takes 4 bytes per element), and `tailBytes` (> 0) of a
   * tail: what a fused kernel saves for its gradient (attention's log-sum-exp, cross-entropy's dlogits).
   * The tail lives and dies with the tensor, which tfjs already keeps for the backward pass, and, not
   * being an output of its own, needs no gradient of its own.
   */
  allocate(shape: number[], dtype: tf.DataType, tailBytes = 0): tf.TensorInfo {
    const dataId = {};
    this.data.set(dataId, { ...this.newData(shape, dtype, 1), ...this.newTail(tailBytes) });
    return { dataId, shape, dtype };
  }

  /**
   * A new float32 tensor whose values are kept only as their bfloat16 copy (bf16Of()), which its kernel
   * writes: for activations that only matrix products read, which read that copy anyway — half the
   * memory and half the writes. Whatever asks for the float32 values (pointer()) gets them made from
   * the copy then, so any other reader still works, at the cost of one conversion.
   */
  allocateBf16(shape: number[], tailBytes = 0): tf.TensorInfo {
    const dataId = {};
    const size = tf.util.sizeFromShape(shape);
    this.data.set(dataId, { ptr: 0n, bytes: 0, dtype: 'float32', size, refCount: 1, bf16: this.scratch(size * 2), ...this.newTail(tailBytes) });
    return { dataId, shape, dtype: 'float32' };
  }

  /** Whether a tensor has its bfloat16 copy already. */
  hasBf16(info: tf.TensorInfo): boolean {
    return this.data.get(info.dataId).bf16 !== undefined;
  }

  /** Whether a tensor's float32 values exist (false while it is kept in bfloat16 only). */
  hasFloat32(info: tf.TensorInfo): boolean {
    return this.data.get(info.dataId).ptr !== 0n;
  }

  private newData(shape: number[], dtype: tf.DataType, refCount: number): DeviceData {
    if (dtype === 'string' || dtype === 'complex64') throw new Error(`cuda backend: dtype ${dtype} is not supported`);
    const size = tf.util.sizeFromShape(shape);
    const bytes = size * 4;
    this.bytesInUse += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse);
    return { ptr: this.alloc(bytes), bytes, dtype, size, refCount };
  }

  /** A tensor's tail of `bytes` (scratch memory, released with the tensor), or none. */
  private newTail(bytes: number): Pick<DeviceData, 'tail'> {
    return bytes > 0 ? { tail: { ptr: this.scratch(bytes), bytes } } : {};
  }

  /** A tensor's tail (see allocate()): where it starts, and how many bytes it has (0: none). */
  tail(info: tf.TensorInfo): { ptr: bigint; bytes: number } {
    return this.data.get(info.dataId).tail ?? { ptr: 0n, bytes: 0 };
  }

  /** Device memory outside a tensor's own allocation (scratch space, bf16 copies); give it back with release(). */
  scratch(bytes: number): bigint {
    const size = Math.max(bytes, 4);
    const ptr = this.alloc(size);
    this.scratchBytes.set(ptr, size);
    this.bytesInUse += size; // counted with the tensors: the peak is what the GPU had to hold
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse);
    return ptr;
  }

  /** Free scratch memory once the work queued before it has run (stream-ordered, no wait). */
  release(ptr: bigint): void {
    this.bytesInUse -= this.scratchBytes.get(ptr) ?? 0;
    this.scratchBytes.delete(ptr);
    this.free(ptr);
  }

  /**
   * A bfloat16 copy of a float32 tensor's values, made by `make` on first use and kept while the data
   * lives: a matrix product's operand is then converted once however many products read it (q, k and v
   * read one normed input; the backward reads every input and output gradient of the forward again).
   * Whatever writes a tensor's values in place calls written(), which drops the copy.
   */
  bf16Of(info: tf.TensorInfo, make: () => bigint): bigint {
    const entry = this.data.get(info.dataId);
    return (entry.bf16 ??= make());
  }

  /** A tensor's values were changed in place (AdamW, a graph's refilled inputs, the KV cache): drop copies of the old ones. */
  written(info: tf.TensorInfo): void {
    const entry = this.data.get(info.dataId);
    if (entry.ptr === 0n) throw new Error('cuda backend: written() on a tensor kept in bfloat16 only: its float32 values were never asked for (pointer())');
    if (entry.bf16 !== undefined) this.release(entry.bf16);
    entry.bf16 = undefined;
  }

  /** cuBLAS on this backend's stream (loaded on first use). */
  private get cublas(): Cublas {
    return (this.blas ??= new Cublas(this.stream));
  }

  /** The device pointer of a tensor's data; of a tensor kept in bfloat16 only, its float32 values made now. */
  pointer(info: tf.TensorInfo): bigint {
    return this.float32Of(this.data.get(info.dataId), true);
  }

  /**
   * A tensor's float32 values: for one kept in bfloat16 only, room for them made now, filled from the
   * copy when `convert` (not when the caller is about to overwrite them).
   */
  private float32Of(entry: DeviceData, convert: boolean): bigint {
    if (entry.ptr !== 0n) return entry.ptr;
    // (memory allocated while recording would belong to the graph, and the conversion be replayed)
    this.notCapturing('making float32 values of a tensor kept in bfloat16 only');
    entry.bytes = entry.size * 4;
    entry.ptr = this.alloc(entry.bytes);
    this.bytesInUse += entry.bytes;
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse);
    if (convert) {
      this.float32Made++;
      this.launchElementwise(FROM_BF16_SOURCE, 'from_bf16', entry.size, [entry.ptr, entry.bf16!, BigInt(entry.size)]);
    }
    return entry.ptr;
  }

  /**
   * Launch `kernel` from CUDA `source` (compiled on first use) on `grid` blocks (a count, or x·y·z) of
   * `block` threads, with `sharedBytes` of dynamic shared memory per block.
   */
  launch(source: string, kernel: string, grid: number | [number, number, number], block: number, args: KernelArg[], sharedBytes = 0): void {
    const fn = this.kernelWithShared(source, kernel, sharedBytes);
    this.timed(() => kernel, () => this.driver.launch(fn, typeof grid === 'number' ? [grid, 1, 1] : grid, [block, 1, 1], args, this.stream, kernel, sharedBytes));
  }

  /**
   * One wave of `kernel`: the blocks of `block` threads (and `sharedBytes` of shared memory) the GPU runs
   * at once — SMs × what one SM holds, its registers and shared memory permitting (at least one an SM).
   */
  blocksAWave(source: string, kernel: string, block: number, sharedBytes = 0): number {
    // Asked of the driver once for each kernel and shape: the answer does not change, and a 440m step
    // asks ~100 times.
    const fn = this.kernelWithShared(source, kernel, sharedBytes);
    let answers = this.waves.get(fn);
    if (answers === undefined) this.waves.set(fn, (answers = new Map()));
    const key = `${block}/${sharedBytes}`;
    if (!answers.has(key)) answers.set(key, this.multiprocessors * Math.max(1, this.driver.blocksPerMultiprocessor(fn, block, sharedBytes)));
    return answers.get(key)!;
  }

  /** The kernel, allowed `sharedBytes` of dynamic shared memory a block. */
  private kernelWithShared(source: string, kernel: string, sharedBytes: number): Handle {
    const fn = this.kernel(source, kernel);
    // Above 48 KB a kernel must opt in to the larger shared memory of sm_70 and later (again when a
    // launch needs more than the last opt-in: the same kernel serves several sizes).
    if (sharedBytes > Math.max(48 * 1024, this.bigShared.get(fn) ?? 0)) {
      this.driver.setMaxSharedBytes(fn, sharedBytes);
      this.bigShared.set(fn, sharedBytes);
    }
    return fn;
  }

  /** A matrix product through cuBLAS on this backend's stream (see Gemm). */
  gemm(g: Gemm): void {
    this.timed(() => `cuBLAS ${g.precision}${g.output === 'bfloat16' ? '→bf16' : ''} ${g.batch > 1 ? `${g.batch}×` : ''}[${g.m}×${g.k}]${g.transposeA ? 'ᵀ' : ''}·[${g.k}×${g.n}]${g.transposeB ? 'ᵀ' : ''}`, () => this.cublas.gemm(g));
  }

  /** Queue `queue`, with events around it (and its label) while timeLaunches() is recording. */
  private timed(label: () => string, queue: () => void): void {
    if (this.launchEvents === null) return queue();
    const start = this.driver.recordEvent(this.stream);
    queue();
    this.launchEvents.push({ label: label(), start, end: this.driver.recordEvent(this.stream) });
  }

  /**
   * GPU time of each kernel and cuBLAS product that `f` queues, summed by name (tf.profile times whole
   * tfjs ops, which may launch several). The events around each launch cost the host time, not the GPU.
   */
  timeLaunches(f: () => void): Map<string, { ms: number; count: number }> {
    const events: { label: string; start: Handle; end: Handle }[] = (this.launchEvents = []);
    try {
      f();
    } finally {
      this.launchEvents = null;
    }
    const totals = new Map<string, { ms: number; count: number }>();
    for (const { label, start, end } of events) {
      const entry = totals.get(label) ?? { ms: 0, count: 0 };
      entry.ms += this.driver.elapsedMs(start, end);
      entry.count++;
      totals.set(label, entry);
    }
    return totals;
  }

  /** Launch a kernel with a grid-stride loop over n elements. */
  launchElementwise(source: string, kernel: string, n: number, args: KernelArg[]): void {
    if (n === 0) return;
    this.launch(source, kernel, Math.min(Math.ceil(n / BLOCK), this.multiprocessors * 16), BLOCK, args);
  }

  private kernel(source: string, name: string): Handle {
    // Keyed by the source string itself, then the name: most sources are constants, whose hash V8
    // computes once, where a joined key would be a new string of tens of KB to hash at every launch.
    // One compile and one module a source: its other kernels are looked up in the same module.
    let loaded = this.modules.get(source);
    if (loaded === undefined) {
      const { cubin } = compileModule(this.nvrtc, source, name, this.arch);
      this.modules.set(source, (loaded = { module: this.driver.loadModule(cubin), functions: new Map() }));
    }
    let fn = loaded.functions.get(name);
    if (fn === undefined) loaded.functions.set(name, (fn = this.driver.kernelOf(loaded.module, name)));
    return fn;
  }

  /**
   * Record the GPU work `f` queues as a CUDA graph instead of running it. f must not copy from or to the
   * host: its inputs and outputs are tensors made before, refilled between replays with overwrite() and
   * written with copyInto(); the tensors f makes it disposes (they become the graph's own scratch memory).
   * Host values that f uploads as tensors are fixed in the graph: one value repeated (tfjs's ones, a
   * scalar constant) becomes a fill kernel, anything else is an error — a value that changes between
   * replays goes in a tensor refilled with overwrite(). So are kernel parameters: what changes between
   * replays, kernels must read from the device. f must not free memory made before it (a replay would
   * free it again), and what it allocates it must free (a graph whose memory outlives it cannot run twice).
   * Run f once for real before, so that its kernels are compiled and cuBLAS is set up.
   */
  capture(what: string, f: () => void): CudaGraph {
    this.driver.beginCapture(this.stream);
    this.capturing = what;
    try {
      f();
      if (this.capturedAllocations.size > 0) {
        throw new Error(`cuda backend: ${this.capturedAllocations.size} allocations made while capturing ${what} as a CUDA graph are still in use at its end: dispose what the recorded work makes`);
      }
    } catch (err) {
      this.endCapturing();
      try {
        const { graph, exec } = this.driver.endCapture(this.stream);
        this.driver.destroyGraph(graph, exec);
      } catch {
        // the capture was already invalid: the first error says why
      }
      throw err;
    }
    this.endCapturing();
    const graph = new CudaGraph(this, this.driver.endCapture(this.stream));
    // The memory the work used before, run for real, stays cached in the stream's pool; the graph has its own.
    this.driver.trimPool();
    return graph;
  }

  private endCapturing(): void {
    this.capturing = null;
    this.capturedAllocations.clear();
  }

  /** Device memory on the stream; while capturing, the graph's own. */
  private alloc(bytes: number): bigint {
    const ptr = this.driver.alloc(bytes, this.stream);
    if (this.capturing) this.capturedAllocations.add(ptr);
    return ptr;
  }

  /** Free device memory on the stream; while capturing, only memory the graph allocated. */
  private free(ptr: bigint): void {
    if (this.capturing && !this.capturedAllocations.delete(ptr)) {
      throw new Error(`cuda backend: freeing memory made before capturing ${this.capturing} as a CUDA graph (each replay would free it again): keep such tensors past the recorded work`);
    }
    this.driver.free(ptr, this.stream);
  }

  /** Copy a tensor's values into another of the same size, in stream order (a captured graph's output). */
  copyInto(dst: tf.TensorInfo, src: tf.TensorInfo): void {
    const [to, from] = [this.data.get(dst.dataId), this.data.get(src.dataId)];
    if (to.size !== from.size) throw new Error(`cuda backend: copyInto: ${from.size} values into a tensor of ${to.size}`);
    const [toPtr, fromPtr] = [this.float32Of(to, false), this.pointer(src)];
    this.written(dst);
    this.driver.copy(toPtr, fromPtr, from.size * 4, this.stream);
  }

  /** Replace a tensor's values in place (a captured graph's input between replays). */
  overwrite(info: tf.TensorInfo, values: Float32Array | Int32Array): void {
    const entry = this.data.get(info.dataId);
    if (values.length !== entry.size) throw new Error(`cuda backend: overwrite: ${values.length} values for a tensor of ${entry.size}`);
    this.notCapturing('refilling a tensor');
    this.float32Of(entry, false);
    this.written(info);
    this.upload(info.dataId, values);
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    const info = this.allocate(shape, dtype);
    this.upload(info.dataId, values);
    return info.dataId;
  }

  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.data.set(dataId, this.newData(shape, dtype, refCount));
    this.upload(dataId, values);
  }

  private upload(dataId: tf.DataId, values: tf.backend_util.BackendValues | null): void {
    const entry = this.data.get(dataId);
    if (values === null || entry.size === 0) return;
    // bool arrives as Uint8Array; the device keeps every dtype in 4 bytes.
    const host = values instanceof Float32Array || values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    if (this.capturing) return this.fillCaptured(entry, host);
    this.driver.upload(entry.ptr, host, this.stream);
  }

  /**
   * While capturing, a tensor made from host values: a constant — one value repeated, as tfjs's ones and
   * scalars are — is written by a fill kernel, which the graph holds; anything else cannot be recorded
   * (a copy from host memory would be replayed from memory the host has since reused).
   */
  private fillCaptured(entry: DeviceData, host: Float32Array | Int32Array): void {
    const first = host[0]!;
    if (!host.every((x) => Object.is(x, first))) this.notCapturing(`copying ${host.length} host values to the GPU`);
    const bits = host instanceof Float32Array ? new Int32Array(host.buffer, host.byteOffset, 1)[0]! : first;
    this.launchElementwise(FILL_SOURCE, 'fill', host.length, [entry.ptr, { i32: bits }, { i32: host.length }]);
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    this.notCapturing('reading a tensor back');
    const entry = this.data.get(dataId);
    const out = entry.dtype === 'float32' ? new Float32Array(entry.size) : new Int32Array(entry.size);
    const started = performance.now();
    if (entry.size > 0) this.driver.download(out, this.float32Of(entry, true), this.stream);
    this.waitedMs += performance.now() - started;
    return entry.dtype === 'bool' ? Uint8Array.from(out) : out;
  }

  override async read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  private notCapturing(doing: string): void {
    if (this.capturing) throw new Error(`cuda backend: ${doing} while capturing ${this.capturing} as a CUDA graph: make such tensors before the capture`);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const entry = this.data.get(dataId);
    entry.refCount--;
    if (!force && entry.refCount > 0) return false;
    if (entry.bf16 !== undefined) this.release(entry.bf16);
    if (entry.tail !== undefined) this.release(entry.tail.ptr);
    if (entry.ptr !== 0n) this.free(entry.ptr);
    this.bytesInUse -= entry.bytes;
    this.data.delete(dataId);
    return true;
  }

  override incRef(dataId: tf.DataId): void {
    this.data.get(dataId).refCount++;
  }

  override refCount(dataId: tf.DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId).refCount : 0;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): { unreliable: boolean; numBytesInGPU: number; peakBytesInGPU: number } {
    return { unreliable: false, numBytesInGPU: this.bytesInUse, peakBytesInGPU: this.peakBytes };
  }

  /** GPU time of the work `f` queues, from events around it: the CPU does not wait (tf.profile uses this). */
  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const start = this.driver.recordEvent(this.stream);
    f();
    const end = this.driver.recordEvent(this.stream);
    await new Promise((resolve) => setImmediate(resolve)); // let the caller queue more work first
    return { kernelMs: this.driver.elapsedMs(start, end) };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {
    this.driver.synchronize(this.stream);
  }
}
