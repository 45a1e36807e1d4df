// The rendezvous of a data-parallel run: every rank needs the same NCCL unique id to join one
// communicator, and only rank 0 makes it. Rank 0 hands it out over TCP at MASTER_ADDR:MASTER_PORT, as
// torchrun's store does: each other rank connects (retrying while rank 0 is still starting) and reads
// the id's bytes. Rank 0 returns once every other rank has its copy — it must, before it calls
// ncclCommInitRank, which blocks this thread until all ranks have joined.
import { createConnection, createServer } from 'node:net';
import type { Ranks } from './data-parallel.js';

/** How long ranks wait for each other before giving up, with a message that says who is missing. */
export const RENDEZVOUS_TIMEOUT_MS = 120_000;

/** The run's NCCL id: made by `make` on rank 0, received from rank 0 on the others. */
export function shareUniqueId(ranks: Ranks, make: () => Uint8Array, timeoutMs = RENDEZVOUS_TIMEOUT_MS): Promise<Uint8Array> {
  return ranks.rank === 0 ? serveId(ranks, make(), timeoutMs) : fetchId(ranks, timeoutMs);
}

/** Rank 0: serve `id` to worldSize − 1 connections, then stop listening. */
function serveId(ranks: Ranks, id: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const expected = ranks.worldSize - 1;
  if (expected === 0) return Promise.resolve(id);
  return new Promise((resolve, reject) => {
    let served = 0;
    const server = createServer((socket) => {
      socket.on('error', () => {}); // a rank that went away: it does not count as served
      socket.end(id, (err?: Error) => {
        if (err) return;
        if (++served === expected) {
          clearTimeout(timer);
          server.close();
          resolve(id);
        }
      });
    });
    const timer = setTimeout(() => {
      server.close();
      reject(new Error(`rendezvous: ${served} of the ${expected} other ranks fetched the NCCL id from ${ranks.masterAddr}:${ranks.masterPort} within ${timeoutMs / 1000} s; did every rank start, with the same MASTER_ADDR and MASTER_PORT?`));
    }, timeoutMs);
    server.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`rendezvous: rank 0 cannot listen on ${ranks.masterAddr}:${ranks.masterPort} (${(err as Error).message}); choose another MASTER_PORT`));
    });
    server.listen(ranks.masterPort, ranks.masterAddr);
  });
}

/** Other ranks: connect to rank 0 (again every 200 ms until it listens) and read the id. */
async function fetchId(ranks: Ranks, timeoutMs: number): Promise<Uint8Array> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      return await readId(ranks);
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`rendezvous: rank ${ranks.rank} could not get the NCCL id from rank 0 at ${ranks.masterAddr}:${ranks.masterPort} within ${timeoutMs / 1000} s (${lastError}); is rank 0 running?`);
}

/** One attempt: the bytes rank 0 sends before closing the connection. */
function readId(ranks: Ranks): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection(ranks.masterPort, ranks.masterAddr);
    socket.setTimeout(10_000, () => socket.destroy(new Error('rank 0 accepted the connection but sent nothing for 10 s')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const id = Buffer.concat(chunks);
      if (id.length === 0) reject(new Error('rank 0 closed the connection without sending the id'));
      else resolve(new Uint8Array(id));
    });
  });
}
