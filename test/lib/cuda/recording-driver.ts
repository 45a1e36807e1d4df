// A stand-in for the CUDA driver that records what the cuda backend asks of it (cuBLAS's products are
// skipped), so that its bookkeeping — and a whole training step's — can be checked in CI, on a machine
// without a GPU. NVRTC is the real one (npm test installs it): every kernel a step launches compiles.
import * as tf from '@tensorflow/tfjs';
import { CudaBackend } from '../../../lib/backend/cuda/backend.js';
import type { MatmulPrecision } from '../../../lib/backend/cuda/ffi/cublas.js';
import type { DeviceInfo, Driver, KernelArg } from '../../../lib/backend/cuda/ffi/driver.js';
import { registerCudaBackend } from '../../../lib/backend/cuda/register.js';

/** A driver with one pretend GPU: allocations are numbered addresses, launches are recorded, copies do nothing. */
export class RecordingDriver {
  readonly live = new Map<bigint, number>(); // address → bytes
  readonly launches: { kernel: string; args: KernelArg[] }[] = [];
  /** The most bytes allocated at once since the last resetPeak(). */
  peakBytes = 0;
  private liveBytes = 0;
  private next = 0x10000n;

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  deviceCount(): number {
    return 1;
  }
  deviceInfo(): DeviceInfo {
    return { name: 'recording driver', arch: 'sm_90', multiprocessors: 4, sharedPerMultiprocessor: 228 * 1024, sharedPerBlock: 227 * 1024 };
  }
  open(): { stream: string; device: number } {
    return { stream: 'stream', device: 0 };
  }
  alloc(bytes: number): bigint {
    const ptr = this.next;
    this.next += BigInt(Math.ceil(Math.max(bytes, 1) / 256) * 256);
    this.live.set(ptr, bytes);
    this.liveBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return ptr;
  }
  free(ptr: bigint): void {
    const bytes = this.live.get(ptr);
    if (bytes === undefined) throw new Error(`free of ${ptr}, which is not allocated`);
    this.live.delete(ptr);
    this.liveBytes -= bytes;
  }
  loadModule(): string {
    return 'module';
  }
  kernelOf(_module: string, name: string): string {
    return name;
  }
  launch(fn: string, _grid: unknown, _block: unknown, args: KernelArg[]): void {
    this.launches.push({ kernel: fn, args });
  }
  upload(): void {}
  download(): void {}
  copy(): void {}
  synchronize(): void {}
  setMaxSharedBytes(): void {}
  blocksPerMultiprocessor(): number {
    return 2;
  }
  /** CUDA graphs recorded, replayed and destroyed (the launches while recording are in `launches` too). */
  readonly graphs = { recorded: 0, replayed: 0, destroyed: 0 };
  beginCapture(): void {}
  endCapture(): { graph: string; exec: string } {
    this.graphs.recorded++;
    return { graph: 'graph', exec: 'exec' };
  }
  launchGraph(): void {
    this.graphs.replayed++;
  }
  destroyGraph(): void {
    this.graphs.destroyed++;
  }
  trimPool(): void {}
}

/**
 * Makes tfjs's 'cuda' backend the cuda kernels over `driver` (a GPU's stand-in: cuBLAS's products are
 * skipped, since cuBLAS itself needs a GPU) and the current backend, with `precision` for its products.
 * `leaveRecordingBackend()` goes back to cpu.
 */
export async function useRecordingBackend(driver: RecordingDriver, precision: MatmulPrecision = 'fp32'): Promise<CudaBackend> {
  registerCudaBackend(); // the kernels, under the backend name 'cuda' …
  tf.removeBackend('cuda');
  tf.registerBackend('cuda', () => {
    const cuda = new CudaBackend(driver as unknown as Driver); // … on this backend instead of a GPU's
    Object.defineProperty(cuda, 'cublas', { get: () => ({ gemm: () => {} }) });
    return cuda;
  }, -1);
  await tf.setBackend('cuda');
  const cuda = tf.backend() as CudaBackend;
  cuda.matmulPrecision = precision;
  return cuda;
}

/** Back to the cpu backend, the recording one removed. */
export async function leaveRecordingBackend(): Promise<void> {
  await tf.setBackend('cpu');
  tf.removeBackend('cuda');
}
