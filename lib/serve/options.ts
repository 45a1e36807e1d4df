// The defaults of `tinyllm serve`, in one place for the server, the command line and the notebook —
// apart from the server so that `tinyllm serve --help` shows them without loading TensorFlow.js.

export const SERVE_DEFAULTS = {
  /** Loopback only: reachable from this machine, until you choose to expose it. */
  host: '127.0.0.1',
  port: 8000,
  /** Largest request body; bigger ones get 413. */
  maxBodyBytes: 1 << 20,
  /** Generations decoded together, one token each per step; more wait. */
  maxRunning: 8,
  /** Generations that may wait; beyond them requests get 429. */
  maxWaiting: 64,
};
