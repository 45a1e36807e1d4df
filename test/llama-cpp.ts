// Stock llama.cpp for tests, through node-llama-cpp's prebuilt CPU binaries: installed on demand with npm
// into test/artifacts/llama-cpp/ (git ignores test/artifacts/; ~85 MB, ~15 s once), then imported from
// there, so the project itself does not depend on it. Only linux-x64 has the binaries we pin; anywhere
// else, or without the npm registry, loading fails and says why — set TINYLLM_SKIP_LLAMA_CPP=1 to skip
// the llama.cpp tests instead (e.g. offline).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The node-llama-cpp release we test against (its llama.cpp build is fixed by it). */
export const NODE_LLAMA_CPP_VERSION = '3.22.1';
/** Where it is installed. */
export const LLAMA_CPP_DIR = resolve('test/artifacts/llama-cpp'); // from the project root, where tests, benchmarks and notebooks run (tslab loads this as CommonJS: no import.meta)
/** The environment variable that skips the llama.cpp tests. */
export const SKIP_LLAMA_CPP = 'TINYLLM_SKIP_LLAMA_CPP';

const PACKAGES = [`node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}`];

/** Why the llama.cpp tests are skipped (TINYLLM_SKIP_LLAMA_CPP is set), or null when they run. */
export function llamaCppSkipReason(): string | null {
  const value = process.env[SKIP_LLAMA_CPP];
  return value && value !== '0' ? `${SKIP_LLAMA_CPP}=${value} is set` : null;
}

// The part of node-llama-cpp's API the tests use (the package is not a dependency, so not typed by it).
/** A loaded model: its tokenizer and contexts. */
export interface LlamaCppModel {
  tokenize(text: string, specialTokens?: boolean): number[];
  createContext(options: {
    contextSize: number; threads: number; flashAttention: boolean;
    experimentalKvCacheKeyType?: string; experimentalKvCacheValueType?: string;
  }): Promise<LlamaCppContext>;
  dispose(): Promise<void>;
}
/** A context: holds sequences (each its own KV cache). */
export interface LlamaCppContext {
  getSequence(): LlamaCppSequence;
  dispose(): Promise<void>;
}
/** A sequence: evaluates tokens and generates. */
export interface LlamaCppSequence {
  evaluate(tokens: number[], options: { temperature: number; yieldEogToken: boolean }): AsyncGenerator<number, void, void>;
  controlledEvaluate(input: (number | [number, { generateNext?: { logits?: boolean } }])[]): Promise<({ next: { logits?: Map<number, number> } } | undefined)[]>;
  /** Forget every evaluated token (the KV cache), to start again from position 0. */
  clearHistory(): Promise<void>;
  dispose(): void;
}
/** A llama.cpp instance. */
export interface LlamaCpp {
  loadModel(options: { modelPath: string; gpuLayers: number }): Promise<LlamaCppModel>;
  dispose(): Promise<void>;
}
/** The module's entry points we call. */
export interface NodeLlamaCpp {
  getLlama(options: { gpu: false; build: 'never'; logLevel: string; maxThreads: number }): Promise<LlamaCpp>;
}

/** What loadLlamaCpp did: the module and how long the install took (0 when it was there already). */
export interface LoadedLlamaCpp {
  module: NodeLlamaCpp;
  installSeconds: number;
}

const installed = (dir: string) => [
  join(dir, 'node_modules/node-llama-cpp/package.json'), join(dir, 'node_modules/@node-llama-cpp/linux-x64/package.json'),
].every((file) => existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version === NODE_LLAMA_CPP_VERSION)
  && existsSync(join(dir, 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'));

/** Install node-llama-cpp (unless it is there) and import it; throws, saying why, where it cannot. */
export async function loadLlamaCpp(): Promise<LoadedLlamaCpp> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`llama.cpp tests: node-llama-cpp's prebuilt binaries are pinned for linux-x64, this is ${process.platform}-${process.arch}; set ${SKIP_LLAMA_CPP}=1 to skip these tests`);
  }
  let installSeconds = 0;
  if (!installed(LLAMA_CPP_DIR)) {
    // Into a scratch folder renamed when complete: an interrupted install never looks installed.
    const partial = `${LLAMA_CPP_DIR}.partial`;
    rmSync(partial, { recursive: true, force: true });
    const start = performance.now();
    const npm = spawnSync('npm', ['install', '--prefix', partial, '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', ...PACKAGES], {
      encoding: 'utf8', timeout: 300_000,
    });
    installSeconds = (performance.now() - start) / 1000;
    if (npm.status !== 0 || !installed(partial)) {
      rmSync(partial, { recursive: true, force: true });
      const why = npm.error ? npm.error.message : (npm.stderr || npm.stdout).trim().split('\n').slice(-3).join(' / ');
      throw new Error(`llama.cpp tests: npm install ${PACKAGES.join(' ')} failed (${why}); these tests need the npm registry once (then ${LLAMA_CPP_DIR} is reused), or set ${SKIP_LLAMA_CPP}=1 to skip them`);
    }
    rmSync(LLAMA_CPP_DIR, { recursive: true, force: true });
    renameSync(partial, LLAMA_CPP_DIR);
  }
  const entry = join(LLAMA_CPP_DIR, 'node_modules/node-llama-cpp/dist/index.js');
  const url = pathToFileURL(entry).href;
  try {
    return { module: (await import(url)) as NodeLlamaCpp, installSeconds };
  } catch {
    // node-llama-cpp is ES modules only, and a CommonJS caller (tslab compiles notebooks to it) turns
    // import() into require(), which Node 20 cannot do for ES modules: a Function keeps a real import().
    const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
    return { module: (await importModule(url)) as NodeLlamaCpp, installSeconds };
  }
}

/** llama.cpp on the CPU (one thread unless told; benchmarks pass theirs), never building from source; warnings and errors only. */
export function getLlamaCpp(module: NodeLlamaCpp, maxThreads = 1): Promise<LlamaCpp> {
  return module.getLlama({ gpu: false, build: 'never', logLevel: 'warn', maxThreads });
}
