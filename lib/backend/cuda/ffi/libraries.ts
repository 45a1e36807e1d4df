// Finding the NVIDIA libraries at run time, with no CUDA toolkit needed at install time. Looked for,
// in order: TINYLLM_CUDA_LIBS, CUDA_HOME / CUDA_PATH, /usr/local/cuda*, the system's linker cache
// (ldconfig -p), the nvidia/*/lib folders of Python site-packages (where PyTorch's CUDA wheels and
// `pip install nvidia-cuda-nvrtc nvidia-cublas` put them), and last the system's library folders.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The libraries the cuda backend loads (and NCCL, for training on several GPUs). */
export type CudaLibrary = 'cuda' | 'nvrtc' | 'nvrtc-builtins' | 'cublas' | 'cublasLt' | 'nccl';

const FILES: Record<CudaLibrary, RegExp> = {
  cuda: /^libcuda\.so(\.1)?$/,
  nvrtc: /^libnvrtc\.so(\.\d+)?$/,
  'nvrtc-builtins': /^libnvrtc-builtins\.so(\.\d+)*$/,
  cublas: /^libcublas\.so(\.\d+)?$/,
  cublasLt: /^libcublasLt\.so(\.\d+)?$/,
  nccl: /^libnccl\.so(\.\d+)?$/,
};

/** A folder to look in, and why it is on the list (for the error message). */
export interface SearchDir {
  dir: string;
  source: string;
}

/** Where discovery looks; each source can be replaced (tests do). */
export interface SearchSources {
  env?: NodeJS.ProcessEnv;
  /** Output of `ldconfig -p`. */
  ldconfig?: string;
  /** Python site-packages folders. */
  sitePackages?: string[];
  /** Folders matching /usr/local/cuda*. */
  cudaInstalls?: string[];
  /** The system's library folders (the driver's libcuda is often only there). */
  systemDirs?: string[];
}

const SYSTEM_DIRS = ['/usr/local/nvidia/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/lib/wsl/lib'];

const LIB_SUBDIRS = ['lib64', 'lib', 'targets/x86_64-linux/lib', 'targets/sbsa-linux/lib'];

/** The folders to search, in order, without duplicates. */
export function searchDirectories(sources: SearchSources = {}): SearchDir[] {
  const env = sources.env ?? process.env;
  const found: SearchDir[] = [];
  const add = (dir: string, source: string) => {
    if (dir && !found.some((d) => d.dir === dir)) found.push({ dir, source });
  };
  for (const dir of (env.TINYLLM_CUDA_LIBS ?? '').split(':')) add(dir, 'TINYLLM_CUDA_LIBS');
  for (const key of ['CUDA_HOME', 'CUDA_PATH'] as const) {
    if (env[key]) for (const sub of LIB_SUBDIRS) add(join(env[key]!, sub), key);
  }
  for (const root of sources.cudaInstalls ?? localCudaInstalls()) for (const sub of LIB_SUBDIRS) add(join(root, sub), '/usr/local/cuda*');
  for (const line of (sources.ldconfig ?? ldconfigOutput()).split('\n')) {
    const m = /=>\s*(\S+)\/[^/]+$/.exec(line.trim());
    if (m && /lib(cuda|nvrtc|cublas|nccl)/.test(line)) add(m[1]!, 'ldconfig -p');
  }
  for (const site of sources.sitePackages ?? pythonSitePackages()) {
    const nvidia = join(site, 'nvidia');
    if (!existsSync(nvidia)) continue;
    for (const pkg of readdirSync(nvidia).sort()) add(join(nvidia, pkg, 'lib'), `Python site-packages (${site})`);
  }
  for (const dir of sources.systemDirs ?? SYSTEM_DIRS) add(dir, 'system folders');
  return found;
}

/** The path of a library, or an error that lists every place searched and how to fix it. */
export function findLibrary(name: CudaLibrary, dirs: SearchDir[] = searchDirectories()): string {
  for (const { dir } of dirs) {
    if (!existsSync(dir)) continue;
    const file = readdirSync(dir).filter((f) => FILES[name].test(f)).sort().at(-1);
    if (file) return join(dir, file);
  }
  const searched = dirs.length > 0 ? dirs.map((d) => `${d.dir} (${d.source})`).join(', ') : 'nowhere (no candidates)';
  const wheel = name.startsWith('nvrtc') ? 'nvidia-cuda-nvrtc' : name === 'nccl' ? 'nvidia-nccl-cu13' : 'nvidia-cublas';
  const fix = name === 'cuda' ? 'install the NVIDIA driver' : `install CUDA 12/13 libraries (pip install ${wheel}, or the CUDA toolkit)`;
  throw new Error(`cuda backend: lib${name}.so not found; searched ${searched}. Fix: ${fix}, or point TINYLLM_CUDA_LIBS at the folder that holds it`);
}

function localCudaInstalls(): string[] {
  if (!existsSync('/usr/local')) return [];
  return readdirSync('/usr/local').filter((d) => /^cuda(-[\d.]+)?$/.test(d)).sort().reverse().map((d) => join('/usr/local', d));
}

/** The system's linker cache (`ldconfig -p`), or '' where there is none. */
export function ldconfigOutput(): string {
  for (const bin of ['/sbin/ldconfig', 'ldconfig']) {
    try {
      return execFileSync(bin, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      // try the next
    }
  }
  return '';
}

function pythonSitePackages(): string[] {
  // The project venv first, then whatever python3 is on PATH (PyTorch users have CUDA wheels there).
  const dirs: string[] = [];
  const venvLib = '.venv/lib';
  if (existsSync(venvLib)) for (const py of readdirSync(venvLib)) dirs.push(join(venvLib, py, 'site-packages'));
  try {
    const out = execFileSync('python3', ['-c', 'import site, sys; print("\\n".join(site.getsitepackages() + [site.getusersitepackages()]))'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    dirs.push(...out.split('\n').filter(Boolean));
  } catch {
    // no python3: nothing to add
  }
  return dirs;
}
