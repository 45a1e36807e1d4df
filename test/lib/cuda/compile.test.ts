// The cuda backend's foundations that need no GPU: finding the NVIDIA libraries, and compiling kernels
// with NVRTC (the venv has PyPI's nvidia-cuda-nvrtc, so CI compiles for sm_90 on a CPU-only machine).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compileModule } from '../../../lib/backend/cuda/compile.js';
import { findLibrary, searchDirectories } from '../../../lib/backend/cuda/ffi/libraries.js';
import { Nvrtc } from '../../../lib/backend/cuda/ffi/nvrtc.js';

function fakeDirs(...libs: [string, string][]): string {
  const root = mkdtempSync(join(tmpdir(), 'cudalibs-'));
  for (const [dir, file] of libs) {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, file), '');
  }
  return root;
}

describe('finding the NVIDIA libraries', () => {
  it('searches TINYLLM_CUDA_LIBS, CUDA_HOME, /usr/local/cuda*, ldconfig, Python site-packages, then system folders', () => {
    const root = fakeDirs(['override/x', 'x'], ['home/lib64', 'x'], ['local/targets/x86_64-linux/lib', 'x'], ['site/nvidia/cu13/lib', 'x']);
    const dirs = searchDirectories({
      env: { TINYLLM_CUDA_LIBS: join(root, 'override'), CUDA_HOME: join(root, 'home') },
      cudaInstalls: [join(root, 'local')],
      ldconfig: '\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n\tlibm.so.6 (libc6,x86-64) => /lib/libm.so.6',
      sitePackages: [join(root, 'site')],
      systemDirs: ['/usr/lib'],
    });
    const sources = [...new Set(dirs.map((d) => d.source.split(' (')[0]))];
    expect(sources).toEqual(['TINYLLM_CUDA_LIBS', 'CUDA_HOME', '/usr/local/cuda*', 'ldconfig -p', 'Python site-packages', 'system folders']);
    expect(dirs.map((d) => d.dir)).toContain('/usr/lib/x86_64-linux-gnu');
    expect(dirs.map((d) => d.dir)).not.toContain('/lib');
  });

  it('takes the first folder that has the library', () => {
    const root = fakeDirs(['a', 'libnvrtc.so.12'], ['b', 'libnvrtc.so.13'], ['b', 'libcublas.so.13'], ['nccl/lib', 'libnccl.so.2']);
    const dirs = [{ dir: join(root, 'missing'), source: 'x' }, { dir: join(root, 'a'), source: 'x' }, { dir: join(root, 'b'), source: 'y' }, { dir: join(root, 'nccl/lib'), source: 'z' }];
    expect(findLibrary('nvrtc', dirs)).toBe(join(root, 'a', 'libnvrtc.so.12'));
    expect(findLibrary('cublas', dirs)).toBe(join(root, 'b', 'libcublas.so.13'));
    expect(findLibrary('nccl', dirs)).toBe(join(root, 'nccl/lib', 'libnccl.so.2'));
  });

  it('lists where it looked and how to fix it when a library is missing', () => {
    const dirs = [{ dir: '/opt/nothing/lib64', source: 'CUDA_HOME' }];
    expect(() => findLibrary('cuda', dirs)).toThrow('cuda backend: libcuda.so not found; searched /opt/nothing/lib64 (CUDA_HOME). Fix: install the NVIDIA driver, or point TINYLLM_CUDA_LIBS at the folder that holds it');
    expect(() => findLibrary('cublas', dirs)).toThrow(/Fix: install CUDA 12\/13 libraries \(pip install nvidia-cublas/);
    expect(() => findLibrary('nccl', dirs)).toThrow(/libnccl\.so not found; .* \(pip install nvidia-nccl-cu13,/);
  });
});

describe('compiling kernels with NVRTC', () => {
  const nvrtc = new Nvrtc();
  const source = 'extern "C" __global__ void add(float* a, const float* b, int n) {\n  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < n) a[i] += b[i];\n}\n';

  it('compiles after garbage collection (first: once NVRTC has compiled, it holds its builtins itself)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const fresh = new Nvrtc();
    for (let round = 0; round < 3; round++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { cubin, log } = fresh.compile(source, 'add.cu', ['--gpu-architecture=sm_90']);
    expect(log).toBe('');
    expect(cubin?.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  });

  it('finds NVRTC 13.0 (the GPU machine\'s CUDA version)', () => {
    expect(nvrtc.version).toBe('13.0');
  });

  it('compiles for sm_90 once, then reads the cubin from the cache', () => {
    const cache = mkdtempSync(join(tmpdir(), 'kernels-'));
    const first = compileModule(nvrtc, source, 'add', 'sm_90', cache);
    expect(first.cached).toBe(false);
    expect(first.cubin.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46])); // an ELF file
    expect(first.cubin.includes(Buffer.from('add'))).toBe(true); // the kernel's symbol
    const second = compileModule(nvrtc, source, 'add', 'sm_90', cache);
    expect(second).toEqual({ cubin: first.cubin, cached: true });
    expect(compileModule(nvrtc, source, 'add', 'sm_80', cache).cached).toBe(false); // another architecture, another entry
    expect(readdirSync(cache).length).toBe(2);
  });

  it('compiles a source once for all its kernels: a second kernel of it comes from the same cache entry', () => {
    const cache = mkdtempSync(join(tmpdir(), 'kernels-'));
    const two = `${source}extern "C" __global__ void scale(float* a, float s, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) a[i] *= s; }\n`;
    const first = compileModule(nvrtc, two, 'add', 'sm_90', cache);
    expect(first.cubin.includes(Buffer.from('scale'))).toBe(true); // both kernels in the one cubin
    expect(compileModule(nvrtc, two, 'scale', 'sm_90', cache)).toEqual({ cubin: first.cubin, cached: true });
    expect(readdirSync(cache).length).toBe(1);
  });

  it('reports a compile error with the kernel, the architecture and the compiler log', () => {
    const cache = mkdtempSync(join(tmpdir(), 'kernels-'));
    expect(() => compileModule(nvrtc, `${source}__global__ void broken() { undefined_thing(); }\n`, 'broken', 'sm_90', cache)).toThrow(
      /cuda backend: kernel broken failed to compile for sm_90 with NVRTC 13\.0:\nbroken\.cu\(5\): error: identifier "undefined_thing" is undefined/,
    );
    expect(readdirSync(cache)).toEqual([]);
  });
});

describe('the GPU suite entry point', () => {
  it('imports every test/gpu/*.test.ts, so the bundled suite runs them all', () => {
    const files = readdirSync('test/gpu').filter((f) => f.endsWith('.test.ts')).map((f) => `./${f.replace(/\.ts$/, '.js')}`);
    const suite = readFileSync('test/gpu/suite.ts', 'utf8');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(suite, `test/gpu/suite.ts does not import ${f}`).toContain(`import '${f}';`);
  });
});
