// Sharing one model between concurrent requests: continuous batching. Every running generation is a
// row of one BatchDecoder, and each step is one forward pass that gives every row its next token — so
// all running requests advance together and none can starve. Between steps, waiting requests join (their
// prompts run once, together: prefill), finished and cancelled ones leave, and the event loop gets a turn
// (new requests arrive, streamed text goes out, a client that left is noticed). Beyond maxRunning
// requests wait in order; beyond the queue they are refused with 429 rather than piling up.
import { BatchDecoder } from '../infer/batch-decoder.js';
import type { GenerateOptions, Sequence } from '../infer/sampling.js';
import type { LlamaModel } from '../model/model.js';
import { ApiError } from './errors.js';

/** A generation request as the scheduler runs it. */
export interface Job {
  readonly prompt: readonly number[];
  readonly options: GenerateOptions;
  /** Its sequence once it has joined the batch (before its first token). */
  start(sequence: Sequence): void;
  /** Called after each new token of its sequence. */
  onToken(): void;
  /** Called once, when the sequence is done, cancelled or failed (err). */
  finish(err?: Error): void;
}

export class Scheduler {
  private readonly batch: BatchDecoder;
  private readonly running = new Map<Job, Sequence>();
  private readonly waiting: Job[] = [];
  private looping = false;

  constructor(model: LlamaModel, readonly maxRunning: number, readonly maxWaiting: number) {
    this.batch = new BatchDecoder(model, maxRunning);
  }

  /** Generations running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  /** Queue a job, or throw a 429 when the queue is full. */
  submit(job: Job): void {
    if (this.running.size + this.waiting.length >= this.maxRunning + this.maxWaiting) {
      throw new ApiError(429, `the server is busy (${this.running.size} generations running, ${this.waiting.length} waiting); retry shortly`, 'rate_limit_error', null, 'server_busy');
    }
    this.waiting.push(job);
    if (!this.looping) void this.loop();
  }

  /** Stop a job (its client went away): it leaves the batch at the next step. */
  cancel(job: Job): void {
    const waitingAt = this.waiting.indexOf(job);
    if (waitingAt >= 0) {
      this.waiting.splice(waitingAt, 1);
      job.finish();
    }
    this.running.get(job)?.finish('length');
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.running.size > 0 || this.waiting.length > 0) {
        // Join: the waiting jobs the batch has room for, prefilled together (their first token comes out of it).
        const joining = new Map<Job, Sequence>();
        while (this.running.size + joining.size < this.maxRunning && this.waiting.length > 0) {
          const job = this.waiting.shift()!;
          try {
            joining.set(job, this.batch.sequence(job.prompt, job.options));
          } catch (err) {
            job.finish(err as Error); // a request the batch cannot take fails alone
          }
        }
        if (joining.size > 0) {
          let failed: Error | null = null;
          try {
            this.batch.join([...joining.values()]);
          } catch (err) {
            failed = err as Error;
          }
          for (const [job, sequence] of joining) {
            try {
              if (failed) throw failed;
              job.start(sequence);
              this.running.set(job, sequence);
              job.onToken();
            } catch (err) {
              sequence.finish('length');
              this.running.delete(job);
              job.finish(err as Error);
            }
          }
        }
        this.finishDone();
        // One token for every running job.
        if (this.running.size > 0) {
          try {
            this.batch.step();
            for (const job of this.running.keys()) job.onToken();
          } catch (err) {
            for (const [job, sequence] of this.running) {
              sequence.finish('length');
              job.finish(err as Error);
            }
            this.running.clear();
          }
          this.finishDone();
        }
        await new Promise<void>((resolve) => setImmediate(resolve)); // let I/O run between tokens
      }
    } finally {
      this.looping = false;
    }
  }

  /** Report the jobs whose sequence ended (at a stop, the length limit, a stop string, or cancelled). */
  private finishDone(): void {
    for (const [job, sequence] of this.running) {
      if (!sequence.done) continue;
      this.running.delete(job);
      job.finish();
    }
  }
}
