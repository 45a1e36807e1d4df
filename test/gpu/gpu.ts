// Shared by the GPU suite: is there a usable NVIDIA GPU here? If not, the reason becomes every GPU
// test's skip message, so `npm run test:gpu` on a machine without one says why it ran nothing.
import { Driver } from '../../lib/backend/cuda/ffi/driver.js';

/** A driver with at least one device, or the reason there is none. */
export function openGpu(): { driver: Driver; skip: false } | { driver: null; skip: string } {
  try {
    const driver = new Driver();
    if (driver.deviceCount() === 0) return { driver: null, skip: 'no GPU: the CUDA driver reports no devices' };
    return { driver, skip: false };
  } catch (err) {
    return { driver: null, skip: `no GPU: ${(err as Error).message}` };
  }
}
