// vitest globalSetup: every test file, and every process a test starts (tinyllm, Jupyter, the notebooks'
// kernels), puts its temporary files under one folder made for this run, which is removed at the end —
// so a test run leaves nothing behind in /tmp, whichever test made what.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'tinyllm-test-'));
  // os.tmpdir() reads TMPDIR on every call; the workers and their child processes inherit it.
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
