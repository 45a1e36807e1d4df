// NVRTC, NVIDIA's runtime compiler: CUDA C source in, a cubin (machine code for one GPU architecture)
// out. Bound with koffi; no native build step.
import koffi, { type LibraryHandle } from 'koffi';

type Fn = ReturnType<LibraryHandle['func']>;
import { findLibrary, searchDirectories, type SearchDir } from './libraries.js';

/** What a compilation produced: a cubin, or nothing and the compiler's log. */
export interface CompileResult {
  cubin: Buffer | null;
  log: string;
}

/** The NVRTC library, loaded once. */
export class Nvrtc {
  readonly version: string;
  private readonly fn: Record<string, Fn>;
  /** Held for the object's lifetime: koffi unloads a library whose handle is garbage-collected, and
   * libnvrtc opens its builtins lazily, at the first compile. */
  readonly builtins: LibraryHandle;

  constructor(dirs: SearchDir[] = searchDirectories()) {
    // libnvrtc dlopen()s its builtins library by name; load it first so that the lookup finds it even
    // when its folder is not on the loader's path (as with pip's wheels).
    this.builtins = koffi.load(findLibrary('nvrtc-builtins', dirs));
    const lib = koffi.load(findLibrary('nvrtc', dirs));
    this.fn = {
      version: lib.func('int nvrtcVersion(_Out_ int *major, _Out_ int *minor)'),
      create: lib.func('int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, void *headers, void *includeNames)'),
      compile: lib.func('int nvrtcCompileProgram(void *prog, int numOptions, const char **options)'),
      logSize: lib.func('int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)'),
      log: lib.func('int nvrtcGetProgramLog(void *prog, _Out_ uint8_t *log)'),
      cubinSize: lib.func('int nvrtcGetCUBINSize(void *prog, _Out_ size_t *size)'),
      cubin: lib.func('int nvrtcGetCUBIN(void *prog, _Out_ uint8_t *cubin)'),
      destroy: lib.func('int nvrtcDestroyProgram(_Inout_ void **prog)'),
      error: lib.func('const char *nvrtcGetErrorString(int result)'),
    };
    const major = [0], minor = [0];
    this.check(this.fn.version!(major, minor), 'nvrtcVersion');
    this.version = `${major[0]}.${minor[0]}`;
  }

  /** Compile one translation unit (`name` labels it in the log) with nvrtc options, e.g. --gpu-architecture=sm_90. */
  compile(source: string, name: string, options: string[]): CompileResult {
    const program: unknown[] = [null];
    this.check(this.fn.create!(program, source, name, 0, null, null), 'nvrtcCreateProgram');
    try {
      const status = this.fn.compile!(program[0], options.length, options) as number;
      const size = [0];
      this.check(this.fn.logSize!(program[0], size), 'nvrtcGetProgramLogSize');
      const log = Buffer.alloc(Number(size[0]));
      this.check(this.fn.log!(program[0], log), 'nvrtcGetProgramLog');
      const text = log.toString('utf8').replace(/\0+$/, '').trim();
      if (status !== 0) return { cubin: null, log: text || (this.fn.error!(status) as string) };
      this.check(this.fn.cubinSize!(program[0], size), 'nvrtcGetCUBINSize');
      const cubin = Buffer.alloc(Number(size[0]));
      this.check(this.fn.cubin!(program[0], cubin), 'nvrtcGetCUBIN');
      return { cubin, log: text };
    } finally {
      this.fn.destroy!(program);
    }
  }

  private check(status: unknown, call: string): void {
    if (status !== 0) throw new Error(`nvrtc: ${call} failed: ${this.fn.error!(status as number) as string}`);
  }
}
