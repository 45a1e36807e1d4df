// Writing files so that a crash never leaves a half-written one: write `name.tmp`, fsync, rename.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/** Write `data` to `path` atomically: readers see the old file or the whole new one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
