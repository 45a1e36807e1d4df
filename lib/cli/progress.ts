// A progress line on stderr for long work: done/total, rate, ETA and whatever the caller adds
// (loss, tokens/s). Redrawn in place on a terminal; on a pipe or in CI, one line every few seconds.
// Lines printed while the bar is up go through log(), which clears the bar first and redraws it after,
// so a bar on stderr and a line on stdout never share a row.

/** Where a Progress writes: the process's streams, or others in tests. */
export interface ProgressStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

/** Reports progress of `total` units of work. */
export class Progress {
  private readonly started = performance.now();
  private lastPrint = 0;
  private finishedShown = false;
  /** The bar as last drawn on the terminal (empty when none is showing). */
  private shown = '';
  private readonly tty: boolean;

  /** `start`: units already done before this run (a resumed training run), left out of the rate. */
  constructor(
    private readonly label: string, private readonly total: number, private readonly unit = '', private readonly start = 0,
    private readonly streams: ProgressStreams = process,
  ) {
    this.tty = streams.stderr.isTTY === true;
  }

  /** Record `done` units finished; `extra` is appended (e.g. "loss 3.21"). */
  update(done: number, extra = ''): void {
    const now = performance.now();
    const finished = done >= this.total;
    if (finished ? this.finishedShown : now - this.lastPrint < (this.tty ? 100 : 5000)) return;
    this.finishedShown = finished;
    this.lastPrint = now;
    const seconds = (now - this.started) / 1000;
    const rate = (done - this.start) / Math.max(seconds, 1e-9);
    const eta = finished ? `done in ${formatSeconds(seconds)}` : `ETA ${formatSeconds((this.total - done) / Math.max(rate, 1e-9))}`;
    const width = 24;
    const filled = Math.round((width * Math.min(done, this.total)) / Math.max(this.total, 1));
    const bar = this.tty ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const line = `${this.label} ${bar}${formatCount(done)}/${formatCount(this.total)}${this.unit} · ${formatCount(rate)}${this.unit}/s · ${eta}${extra ? ` · ${extra}` : ''}`;
    this.streams.stderr.write(this.tty ? `\r\x1b[K${line}${finished ? '\n' : ''}` : `${line}\n`);
    this.shown = this.tty && !finished ? line : '';
  }

  /** Print a line on stdout without it landing on the bar's row. */
  log(line: string): void {
    if (this.shown) this.streams.stderr.write('\r\x1b[K');
    this.streams.stdout.write(`${line}\n`);
    if (this.shown) this.streams.stderr.write(this.shown);
  }
}

/** 1234567 -> "1.23M". */
export function formatCount(n: number): string {
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) if (Math.abs(n) >= size) return `${(n / size).toFixed(2)}${suffix}`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** 3725 -> "1h02m05s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${(s < 10 ? s.toFixed(1) : sec)}s`;
}
