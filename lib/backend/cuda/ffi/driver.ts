// The CUDA driver API (libcuda, shipped with the NVIDIA driver): devices, contexts, streams, memory,
// modules and kernel launches. Bound with koffi; device pointers are 64-bit integers (BigInt).
import koffi, { type LibraryHandle } from 'koffi';
import { findLibrary, searchDirectories, type SearchDir } from './libraries.js';

type Fn = ReturnType<LibraryHandle['func']>;

/** An opaque driver handle (context, stream, module, function). */
export type Handle = unknown;

const ATTRIBUTE = { computeCapabilityMajor: 75, computeCapabilityMinor: 76, multiprocessors: 16, sharedPerMultiprocessor: 81, sharedPerBlock: 97 } as const;
const MEMPOOL_RELEASE_THRESHOLD = 4;

/** One kernel argument: a device pointer (bigint), an int32, a float32, or a struct's raw bytes. */
export type KernelArg = bigint | { i32: number } | { f32: number } | { struct: Int32Array };

/** What the backend needs to know of a device. */
export interface DeviceInfo {
  name: string;
  arch: string;
  multiprocessors: number;
  sharedPerMultiprocessor: number;
  /** The most shared memory one block may have (opting in above 48 KB). */
  sharedPerBlock: number;
}

/** The driver library with the calls the backend makes; every failing call throws with its name. */
export class Driver {
  private readonly fn: Record<string, Fn>;
  /** The device's stream-ordered memory pool (open()). */
  private pool: Handle = null;

  constructor(dirs: SearchDir[] = searchDirectories()) {
    const lib = koffi.load(findLibrary('cuda', dirs));
    const f = (decl: string) => lib.func(decl);
    this.fn = {
      init: f('int cuInit(unsigned int flags)'),
      error: f('int cuGetErrorString(int error, _Out_ const char **str)'),
      deviceCount: f('int cuDeviceGetCount(_Out_ int *count)'),
      device: f('int cuDeviceGet(_Out_ int *device, int ordinal)'),
      deviceName: f('int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)'),
      attribute: f('int cuDeviceGetAttribute(_Out_ int *value, int attrib, int dev)'),
      retainPrimary: f('int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)'),
      setCurrent: f('int cuCtxSetCurrent(void *ctx)'),
      memInfo: f('int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)'),
      defaultPool: f('int cuDeviceGetDefaultMemPool(_Out_ void **pool, int dev)'),
      poolSet: f('int cuMemPoolSetAttribute(void *pool, int attr, void *value)'),
      poolTrim: f('int cuMemPoolTrimTo(void *pool, size_t minBytesToKeep)'),
      streamCreate: f('int cuStreamCreate(_Out_ void **stream, unsigned int flags)'),
      streamSync: f('int cuStreamSynchronize(void *stream)'),
      allocAsync: f('int cuMemAllocAsync(_Out_ uint64_t *ptr, size_t bytes, void *stream)'),
      freeAsync: f('int cuMemFreeAsync(uint64_t ptr, void *stream)'),
      htod: f('int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, void *stream)'),
      dtoh: f('int cuMemcpyDtoHAsync_v2(_Out_ void *dst, uint64_t src, size_t bytes, void *stream)'),
      dtod: f('int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void *stream)'),
      memsetD32: f('int cuMemsetD32Async(uint64_t dst, unsigned int value, size_t count, void *stream)'),
      moduleLoad: f('int cuModuleLoadData(_Out_ void **module, const void *image)'),
      getFunction: f('int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)'),
      eventCreate: f('int cuEventCreate(_Out_ void **event, unsigned int flags)'),
      eventRecord: f('int cuEventRecord(void *event, void *stream)'),
      eventSync: f('int cuEventSynchronize(void *event)'),
      eventElapsed: f('int cuEventElapsedTime(_Out_ float *ms, void *start, void *end)'),
      eventDestroy: f('int cuEventDestroy_v2(void *event)'),
      funcSetAttribute: f('int cuFuncSetAttribute(void *fn, int attrib, int value)'),
      occupancy: f('int cuOccupancyMaxActiveBlocksPerMultiprocessor(_Out_ int *blocks, void *fn, int blockSize, size_t sharedBytes)'),
      launch: f('int cuLaunchKernel(void *fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, void *stream, void **params, void **extra)'),
      beginCapture: f('int cuStreamBeginCapture_v2(void *stream, int mode)'),
      endCapture: f('int cuStreamEndCapture(void *stream, _Out_ void **graph)'),
      instantiate: f('int cuGraphInstantiateWithFlags(_Out_ void **exec, void *graph, unsigned long long flags)'),
      graphLaunch: f('int cuGraphLaunch(void *exec, void *stream)'),
      graphExecDestroy: f('int cuGraphExecDestroy(void *exec)'),
      graphDestroy: f('int cuGraphDestroy(void *graph)'),
    };
    this.call('init', 'cuInit', 0);
  }

  /** Number of CUDA devices. */
  deviceCount(): number {
    const n = [0];
    this.call('deviceCount', 'cuDeviceGetCount', n);
    return n[0]!;
  }

  /** Name, compute capability ('sm_90'), multiprocessor count and shared memory per multiprocessor (bytes) of a device. */
  deviceInfo(ordinal = 0): DeviceInfo {
    const dev = [0];
    this.call('device', 'cuDeviceGet', dev, ordinal);
    const name = Buffer.alloc(256);
    this.call('deviceName', 'cuDeviceGetName', name, 256, dev[0]);
    const attr = (a: number) => {
      const v = [0];
      this.call('attribute', 'cuDeviceGetAttribute', v, a, dev[0]);
      return v[0]!;
    };
    return {
      name: name.toString('utf8').replace(/\0.*$/s, ''),
      arch: `sm_${attr(ATTRIBUTE.computeCapabilityMajor)}${attr(ATTRIBUTE.computeCapabilityMinor)}`,
      multiprocessors: attr(ATTRIBUTE.multiprocessors),
      sharedPerMultiprocessor: attr(ATTRIBUTE.sharedPerMultiprocessor),
      sharedPerBlock: attr(ATTRIBUTE.sharedPerBlock),
    };
  }

  /** Make the device's primary context current and return a new stream. */
  open(ordinal = 0): { stream: Handle; device: number } {
    const dev = [0], ctx: Handle[] = [null], stream: Handle[] = [null];
    this.call('device', 'cuDeviceGet', dev, ordinal);
    this.call('retainPrimary', 'cuDevicePrimaryCtxRetain', ctx, dev[0]);
    this.call('setCurrent', 'cuCtxSetCurrent', ctx[0]);
    this.call('streamCreate', 'cuStreamCreate', stream, 0);
    // Keep freed memory in the stream-ordered pool instead of returning it to the OS at every sync.
    const pool: Handle[] = [null];
    this.call('defaultPool', 'cuDeviceGetDefaultMemPool', pool, dev[0]);
    this.call('poolSet', 'cuMemPoolSetAttribute', pool[0], MEMPOOL_RELEASE_THRESHOLD, BigUint64Array.of(0xffffffffffffffffn));
    this.pool = pool[0];
    return { stream: stream[0], device: dev[0]! };
  }

  /**
   * Give the GPU back the memory the stream-ordered pool keeps cached and unused: after a CUDA graph is
   * recorded, what the same work took when it ran for real (the graph allocates from a pool of its own).
   */
  trimPool(): void {
    if (this.pool !== null) this.call('poolTrim', 'cuMemPoolTrimTo', this.pool, 0);
  }

  /** Free and total memory in bytes of the current context's device (after open()). */
  memoryInfo(): { free: number; total: number } {
    const free = [0], total = [0];
    this.call('memInfo', 'cuMemGetInfo_v2', free, total);
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  /** Allocate `bytes` on the stream (no synchronization). */
  alloc(bytes: number, stream: Handle): bigint {
    const ptr = [0n];
    this.call('allocAsync', 'cuMemAllocAsync', ptr, Math.max(bytes, 1), stream);
    return BigInt(ptr[0]!);
  }

  /** Free device memory on the stream (no synchronization). */
  free(ptr: bigint, stream: Handle): void {
    this.call('freeAsync', 'cuMemFreeAsync', ptr, stream);
  }

  /** Copy host bytes to the device, in stream order. */
  upload(dst: bigint, src: ArrayBufferView, stream: Handle): void {
    this.call('htod', 'cuMemcpyHtoDAsync', dst, src, src.byteLength, stream);
  }

  /** Copy device bytes to another place on the device, in stream order. */
  copy(dst: bigint, src: bigint, bytes: number, stream: Handle): void {
    this.call('dtod', 'cuMemcpyDtoDAsync', dst, src, bytes, stream);
  }

  /** Copy device bytes to the host and wait for them. */
  download(dst: ArrayBufferView, src: bigint, stream: Handle): void {
    this.call('dtoh', 'cuMemcpyDtoHAsync', dst, src, dst.byteLength, stream);
    this.synchronize(stream);
  }

  /** Wait until the stream's work is done. */
  synchronize(stream: Handle): void {
    this.call('streamSync', 'cuStreamSynchronize', stream);
  }

  /** Record a new event on the stream: a timestamp taken when the GPU reaches it. */
  recordEvent(stream: Handle): Handle {
    const event: Handle[] = [null];
    this.call('eventCreate', 'cuEventCreate', event, 0);
    this.call('eventRecord', 'cuEventRecord', event[0], stream);
    return event[0];
  }

  /** Milliseconds of GPU time between two recorded events (waits for the second); destroys both. */
  elapsedMs(start: Handle, end: Handle): number {
    this.call('eventSync', 'cuEventSynchronize', end);
    const ms = [0];
    this.call('eventElapsed', 'cuEventElapsedTime', ms, start, end);
    this.call('eventDestroy', 'cuEventDestroy', start);
    this.call('eventDestroy', 'cuEventDestroy', end);
    return ms[0]!;
  }

  /** Load a cubin (every kernel of one source) as a module. */
  loadModule(cubin: Buffer): Handle {
    const module: Handle[] = [null];
    this.call('moduleLoad', 'cuModuleLoadData', module, cubin);
    return module[0];
  }

  /** A loaded module's kernel, by name. */
  kernelOf(module: Handle, name: string): Handle {
    const fn: Handle[] = [null];
    this.call('getFunction', `cuModuleGetFunction(${name})`, fn, module, name);
    return fn[0];
  }

  /** Let kernel `fn` use up to `bytes` of dynamic shared memory per block (needed above 48 KB). */
  setMaxSharedBytes(fn: Handle, bytes: number): void {
    const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    this.call('funcSetAttribute', 'cuFuncSetAttribute', fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
  }

  /** How many blocks of `block` threads with `sharedBytes` of dynamic shared memory kernel `fn` runs at once on one SM (its registers, shared memory and threads permitting). */
  blocksPerMultiprocessor(fn: Handle, block: number, sharedBytes: number): number {
    const blocks = [0];
    this.call('occupancy', 'cuOccupancyMaxActiveBlocksPerMultiprocessor', blocks, fn, block, sharedBytes);
    return blocks[0]!;
  }

  /** Launch a kernel on a grid of blocks; `label` names it in errors. */
  launch(fn: Handle, grid: [number, number, number], block: [number, number, number], args: KernelArg[], stream: Handle, label: string, sharedBytes = 0): void {
    // cuLaunchKernel takes an array of pointers, one to each argument's value.
    const values = args.map((a) => (typeof a === 'bigint' ? BigUint64Array.of(a) : 'i32' in a ? Int32Array.of(a.i32) : 'f32' in a ? Float32Array.of(a.f32) : a.struct));
    this.call('launch', `cuLaunchKernel(${label})`, fn, ...grid, ...block, sharedBytes, stream, values, null);
  }

  /**
   * Record instead of run: until endCapture, work queued on the stream (kernels, stream-ordered
   * allocations and frees) becomes the nodes of a graph. Relaxed mode: other threads' calls are not checked.
   */
  beginCapture(stream: Handle): void {
    const CU_STREAM_CAPTURE_MODE_RELAXED = 2;
    this.call('beginCapture', 'cuStreamBeginCapture', stream, CU_STREAM_CAPTURE_MODE_RELAXED);
  }

  /** End the capture and make the recorded graph launchable. */
  endCapture(stream: Handle): { graph: Handle; exec: Handle } {
    const graph: Handle[] = [null], exec: Handle[] = [null];
    this.call('endCapture', 'cuStreamEndCapture', stream, graph);
    try {
      this.call('instantiate', 'cuGraphInstantiateWithFlags', exec, graph[0], 0);
    } catch (err) {
      this.call('graphDestroy', 'cuGraphDestroy', graph[0]);
      throw err;
    }
    return { graph: graph[0], exec: exec[0] };
  }

  /** Queue every node of an instantiated graph on the stream: one call for all its kernels. */
  launchGraph(exec: Handle, stream: Handle): void {
    this.call('graphLaunch', 'cuGraphLaunch', exec, stream);
  }

  /** Free a graph and its launchable instance. */
  destroyGraph(graph: Handle, exec: Handle): void {
    this.call('graphExecDestroy', 'cuGraphExecDestroy', exec);
    this.call('graphDestroy', 'cuGraphDestroy', graph);
  }

  private call(key: string, name: string, ...args: unknown[]): void {
    const status = this.fn[key]!(...args) as number;
    if (status !== 0) {
      const text: unknown[] = [null];
      this.fn.error!(status, text);
      throw new Error(`cuda: ${name} failed: ${String(text[0] ?? `error ${status}`)} (${status})`);
    }
  }
}
