// Kernels are CUDA C strings compiled at run time by NVRTC for the GPU at hand, and cached on disk by a
// hash of everything that decides the machine code, so each is compiled once per machine.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import type { Nvrtc } from './ffi/nvrtc.js';

/** Where compiled kernels are kept: $TINYLLM_CACHE or ~/.cache/tiny-llm-ts, then kernels/. */
export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TINYLLM_CACHE ?? join(homedir(), '.cache', 'tiny-llm-ts'), 'kernels');
}

/** A compiled kernel module and whether it came from the cache. */
export interface CompiledModule {
  cubin: Buffer;
  cached: boolean;
}

/** Options the kernels are compiled with, besides the architecture. */
export const NVRTC_OPTIONS: readonly string[] = ['-default-device', '--std=c++17', '-lineinfo'];

/**
 * Compile `source` for `arch` (e.g. 'sm_90'), or take it from the cache; `name` labels errors. The cubin
 * holds every kernel of the source, so the cache is keyed by the source alone: the kernels of one source
 * (attention's forward, backward and Δ pass; the cross-entropy and its helpers) cost one compile.
 */
export function compileModule(nvrtc: Nvrtc, source: string, name: string, arch: string, cacheDir = kernelCacheDir()): CompiledModule {
  const options = [`--gpu-architecture=${arch}`, ...NVRTC_OPTIONS];
  const key = createHash('sha256').update(JSON.stringify([nvrtc.version, options, source])).digest('hex').slice(0, 32);
  const file = join(cacheDir, `${arch}-${key}.cubin`);
  if (existsSync(file)) return { cubin: readFileSync(file), cached: true };
  const { cubin, log } = nvrtc.compile(source, `${name}.cu`, options);
  if (!cubin) throw new Error(`cuda backend: kernel ${name} failed to compile for ${arch} with NVRTC ${nvrtc.version}:\n${log}`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(file, cubin);
  return { cubin, cached: false };
}
