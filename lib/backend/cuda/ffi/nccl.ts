// NCCL, NVIDIA's collective communication library — what PyTorch DDP, DeepSpeed and llm.c use to add
// up gradients across GPUs — bound with koffi. One communicator per process: each of N processes
// (ranks) drives one GPU and joins with the same unique id, which rank 0 makes and the others receive
// by any channel (a file, a socket). All-reduce runs on the caller's CUDA stream, so it is ordered
// with the kernels around it; calls between groupStart() and groupEnd() go out as one.
import koffi, { type LibraryHandle } from 'koffi';
import type { Handle } from './driver.js';
import { findLibrary, searchDirectories, type SearchDir } from './libraries.js';

type Fn = ReturnType<LibraryHandle['func']>;

/** Bytes of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES). */
export const UNIQUE_ID_BYTES = 128;

/** ncclDataType_t values of the element types we reduce. */
export const NCCL_TYPE = { int32: 2, float32: 7, bfloat16: 9 } as const;
/** ncclRedOp_t values. */
export const NCCL_OP = { sum: 0, max: 2, min: 3, avg: 4 } as const;

/** One all-reduce: `count` elements at `send` reduced across the ranks into `recv` (the same pointer: in place). */
export interface AllReduce {
  send: bigint;
  recv: bigint;
  count: number;
  type: keyof typeof NCCL_TYPE;
  op: keyof typeof NCCL_OP;
}

/** ncclUniqueId: a struct of 128 bytes, passed by value to ncclCommInitRank (a koffi type is declared once per process). */
const UniqueId = koffi.struct('ncclUniqueId', { internal: koffi.array('uint8_t', UNIQUE_ID_BYTES, 'Typed') });

/** The NCCL library; every failing call throws with its name and NCCL's reason. */
export class Nccl {
  private readonly fn: Record<string, Fn>;
  /** Held for the object's lifetime: koffi unloads a library whose handle is garbage-collected. */
  readonly lib: LibraryHandle;

  constructor(dirs: SearchDir[] = searchDirectories()) {
    this.lib = koffi.load(findLibrary('nccl', dirs));
    const f = (decl: string) => this.lib.func(decl);
    this.fn = {
      version: f('int ncclGetVersion(_Out_ int *version)'),
      error: f('const char *ncclGetErrorString(int result)'),
      lastError: f('const char *ncclGetLastError(void *comm)'),
      uniqueId: this.lib.func('ncclGetUniqueId', 'int', [koffi.out(koffi.pointer(UniqueId))]),
      initRank: this.lib.func('ncclCommInitRank', 'int', [koffi.out(koffi.pointer('void *')), 'int', UniqueId, 'int']),
      allReduce: f('int ncclAllReduce(uint64_t sendbuff, uint64_t recvbuff, size_t count, int datatype, int op, void *comm, void *stream)'),
      groupStart: f('int ncclGroupStart(void)'),
      groupEnd: f('int ncclGroupEnd(void)'),
      count: f('int ncclCommCount(void *comm, _Out_ int *count)'),
      userRank: f('int ncclCommUserRank(void *comm, _Out_ int *rank)'),
      asyncError: f('int ncclCommGetAsyncError(void *comm, _Out_ int *result)'),
      destroy: f('int ncclCommDestroy(void *comm)'),
      abort: f('int ncclCommAbort(void *comm)'),
    };
  }

  /** NCCL's version as "2.27.3". */
  version(): string {
    const v = [0];
    this.call('version', 'ncclGetVersion', v);
    const code = v[0]!; // major·10000 + minor·100 + patch (2.9 and later)
    return `${Math.floor(code / 10000)}.${Math.floor(code / 100) % 100}.${code % 100}`;
  }

  /** A new unique id (rank 0 makes it and hands it to the others). */
  uniqueId(): Uint8Array {
    const id = { internal: new Uint8Array(UNIQUE_ID_BYTES) };
    this.call('uniqueId', 'ncclGetUniqueId', id);
    return id.internal;
  }

  /** Join the communicator of `ranks` processes as `rank`, on the current CUDA context's device (blocks until all have joined). */
  initRank(ranks: number, id: Uint8Array, rank: number): Handle {
    if (id.length !== UNIQUE_ID_BYTES) throw new Error(`nccl: a unique id has ${UNIQUE_ID_BYTES} bytes, got ${id.length}`);
    const comm: Handle[] = [null];
    this.call('initRank', `ncclCommInitRank(rank ${rank} of ${ranks})`, comm, ranks, { internal: id }, rank);
    return comm[0];
  }

  /** Enqueue one all-reduce on `stream`. */
  allReduce(comm: Handle, r: AllReduce, stream: Handle): void {
    this.call('allReduce', `ncclAllReduce(${r.count} × ${r.type}, ${r.op})`, r.send, r.recv, r.count, NCCL_TYPE[r.type], NCCL_OP[r.op], comm, stream);
  }

  /** Calls until groupEnd() are issued together (NCCL fuses them). */
  groupStart(): void {
    this.call('groupStart', 'ncclGroupStart');
  }

  groupEnd(): void {
    this.call('groupEnd', 'ncclGroupEnd');
  }

  /** The communicator's size and this process's rank in it. */
  describe(comm: Handle): { ranks: number; rank: number } {
    const [n, r] = [[0], [0]];
    this.call('count', 'ncclCommCount', comm, n);
    this.call('userRank', 'ncclCommUserRank', comm, r);
    return { ranks: n[0]!, rank: r[0]! };
  }

  /** An error raised inside NCCL since the last check (a peer gone, a network failure), or null. */
  asyncError(comm: Handle): string | null {
    const result = [0];
    this.call('asyncError', 'ncclCommGetAsyncError', comm, result);
    return result[0] === 0 || result[0] === 7 ? null : `${this.fn.error!(result[0]) as string} (${result[0]})`; // 7: ncclInProgress
  }

  /** Free a communicator after its work is done; abort() instead when a peer may never answer. */
  destroy(comm: Handle): void {
    this.call('destroy', 'ncclCommDestroy', comm);
  }

  abort(comm: Handle): void {
    this.call('abort', 'ncclCommAbort', comm);
  }

  /** Run a binding; a non-zero ncclResult_t throws with NCCL's words for it (and its last message, when it has one). */
  private call(key: string, what: string, ...args: unknown[]): void {
    const status = this.fn[key]!(...args) as number;
    if (status === 0) return;
    const detail = this.fn.lastError!(null) as string | null; // this thread's last message
    throw new Error(`nccl: ${what} failed: ${this.fn.error!(status) as string} (${status})${detail ? `: ${detail}` : ''}`);
  }
}
