// `tinyllm train --gpus N` (and sft, dpo): start N copies of the same command, one per GPU of this
// machine, with torchrun's variables set (RANK = LOCAL_RANK = 0 … N−1, WORLD_SIZE = N, MASTER_ADDR and a
// free MASTER_PORT on the loopback), and wait for them. Ctrl-C reaches every rank (they stop after the
// same step; rank 0 saves). A rank that fails would leave the others waiting in NCCL forever, so the
// launcher stops them all and says which rank failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';

/** How long ranks get to exit after SIGTERM before SIGKILL. */
const GRACE_MS = 10_000;

/** The command line without `--gpus N` (or `--gpus=N`): what each rank runs. */
export function withoutGpusFlag(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--gpus') i++; // and its value
    else if (!argv[i]!.startsWith('--gpus=')) out.push(argv[i]!);
  }
  return out;
}

/** A TCP port that is free on the loopback now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Run `command args…` as `gpus` ranks; resolves to the exit code: 0 when all succeed, else the first
 * failing rank's (130 when they stopped on Ctrl-C with a checkpoint).
 */
export async function launchRanks(gpus: number, command: string, args: readonly string[], log: (line: string) => void = console.error): Promise<number> {
  const port = await freePort();
  const ranks: ChildProcess[] = [];
  let failure: number | null = null; // the exit code of the first rank that failed
  const stopOthers = (except: number) => {
    ranks.forEach((child, rank) => {
      if (rank === except || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), GRACE_MS).unref();
    });
  };
  // Ctrl-C goes to the whole process group, ranks included: the launcher itself just waits for them.
  const onSigint = () => log('tinyllm: waiting for the ranks to stop after this step');
  // Told to stop (SIGTERM, SIGHUP: a job scheduler, a closed terminal): stop the ranks too, never leave them running.
  const onTerminate = (signal: NodeJS.Signals) => {
    log(`tinyllm: ${signal}: stopping the ranks`);
    stopOthers(-1);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);
  try {
    const exits = Array.from({ length: gpus }, (_, rank) => new Promise<number>((resolve) => {
      const env = { ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(gpus), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
      const child = spawn(command, args, { env, stdio: 'inherit' });
      ranks.push(child);
      child.on('error', (err) => {
        log(`tinyllm: rank ${rank} could not start: ${err.message}`);
        stopOthers(rank);
        resolve(1);
      });
      child.on('exit', (code, signal) => {
        const status = code ?? 128 + (signal ? constants.signals[signal] : 0); // a shell's exit status for a signal
        if (status !== 0 && status !== 130 && failure === null) {
          failure = status;
          log(`tinyllm: rank ${rank} of ${gpus} exited with ${code !== null ? `code ${code}` : `signal ${signal}`}; stopping the other ranks`);
          stopOthers(rank);
        }
        resolve(status);
      });
    }));
    const codes = await Promise.all(exits);
    return failure ?? codes.find((c) => c !== 0) ?? 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onTerminate);
    process.off('SIGHUP', onTerminate);
  }
}
