// Sharing one model between concurrent requests, fairly: the running generations take turns, one token
// each, so a long reply never holds up a short one, and the event loop gets a turn between tokens (new
// requests arrive, streamed text goes out, a client that left is noticed). Requests beyond the running
// ones wait in order; beyond the queue they are refused with 429 rather than piling up.
import { ApiError } from './errors.js';

/** A piece of work that advances one token per step(). */
export interface Job {
  readonly done: boolean;
  step(): void;
  /** Called once, when the job is done, cancelled or failed (err). */
  finish(err?: Error): void;
}

export class Scheduler {
  private readonly running: Job[] = [];
  private readonly waiting: Job[] = [];
  private readonly cancelled = new Set<Job>();
  private turn = 0;
  private looping = false;

  constructor(readonly maxRunning: number, readonly maxWaiting: number) {}

  /** Generations running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  /** Queue a job, or throw a 429 when the queue is full. */
  submit(job: Job): void {
    if (this.running.length >= this.maxRunning && this.waiting.length >= this.maxWaiting) {
      throw new ApiError(429, `the server is busy (${this.running.length} generations running, ${this.waiting.length} waiting); retry shortly`, 'rate_limit_error', null, 'server_busy');
    }
    (this.running.length < this.maxRunning ? this.running : this.waiting).push(job);
    if (!this.looping) void this.loop();
  }

  /** Drop a job (its client went away); it finishes at its next turn. */
  cancel(job: Job): void {
    this.cancelled.add(job);
    if (!this.looping) void this.loop();
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.running.length > 0) {
        this.turn %= this.running.length;
        const job = this.running[this.turn]!;
        let failure: Error | undefined;
        if (!this.cancelled.has(job)) {
          try {
            job.step();
          } catch (err) {
            failure = err as Error;
          }
        }
        if (job.done || failure || this.cancelled.has(job)) {
          this.running.splice(this.turn, 1);
          this.cancelled.delete(job);
          job.finish(failure);
          const next = this.waiting.shift();
          if (next) this.running.push(next);
        } else {
          this.turn++;
        }
        await new Promise<void>((resolve) => setImmediate(resolve)); // let I/O run between tokens
      }
    } finally {
      this.looping = false;
    }
  }
}
