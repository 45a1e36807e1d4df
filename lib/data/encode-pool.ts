// Tokenizing on worker threads: BPE encoding is CPU-bound and one core reaches a few MB/s, so
// `data prepare` spreads batches over workers, each holding its own copy of the tokenizer.
import { Worker } from 'node:worker_threads';
import type { BatchEncoder } from './prepare.js';

/** A pool of encoding workers; `encode` hands each batch to the next worker in turn. */
export class EncodePool {
  private readonly workers: Worker[];
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (ids: number[][]) => void; reject: (err: Error) => void }>();
  private requestId = 0;

  /** Start `count` workers that load the tokenizer at `tokenizerPath` (a dir or tokenizer.json). */
  constructor(tokenizerPath: string, count: number) {
    // Workers do not inherit the tsx loader that runs this file: each registers it, then loads the worker.
    const start = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); ` +
      `return import(${JSON.stringify(new URL('./encode-worker.ts', import.meta.url).href)}); })`;
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(start, { eval: true, workerData: { tokenizerPath } });
      worker.on('message', ({ id, ids, error }: { id: number; ids?: number[][]; error?: string }) => {
        const w = this.waiting.get(id)!;
        this.waiting.delete(id);
        if (error !== undefined) w.reject(new Error(error));
        else w.resolve(ids!);
      });
      worker.on('error', (err) => this.waiting.forEach((w) => w.reject(err)));
      return worker;
    });
  }

  /** The pool as a BatchEncoder for prepareShards. */
  readonly encode: BatchEncoder = (texts) =>
    new Promise((resolve, reject) => {
      const id = this.requestId++;
      this.waiting.set(id, { resolve, reject });
      this.workers[this.next]!.postMessage({ id, texts });
      this.next = (this.next + 1) % this.workers.length;
    });

  /** Stop the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
