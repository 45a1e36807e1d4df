// Execute every notebook headlessly with the real tslab kernel through Jupyter's own client
// (nbconvert --execute, which runs nbclient); any cell error or timeout fails the test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { notebookPath, notebookSources } from '../../notebooks/tools/ipynb.js';

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

const CELL_TIMEOUT_S = 300;

beforeAll(() => {
  // Creates .venv (JupyterLab, nbclient, the tslab kernel) on a fresh clone; a no-op afterwards.
  const setup = spawnSync('bash', ['notebooks/tools/venv.sh'], { stdio: 'inherit' });
  expect(setup.status, 'notebooks/tools/venv.sh failed').toBe(0);
}, 900_000);

function execute(notebook: string): Output[][] {
  const outDir = mkdtempSync(join(tmpdir(), 'nb-'));
  const run = spawnSync(
    '.venv/bin/jupyter',
    ['nbconvert', '--to', 'notebook', '--execute', `--ExecutePreprocessor.timeout=${CELL_TIMEOUT_S}`,
      '--ExecutePreprocessor.kernel_name=tslab', '--output-dir', outDir, notebook],
    { encoding: 'utf8' },
  );
  expect(run.status, `${notebook} failed to execute:\n${run.stderr.slice(-4000)}`).toBe(0);
  const executed = JSON.parse(readFileSync(join(outDir, notebook.split('/').pop()!), 'utf8'));
  return executed.cells.filter((c: { cell_type: string }) => c.cell_type === 'code').map((c: { outputs: Output[] }) => c.outputs);
}

describe('notebooks execute', () => {
  for (const source of notebookSources()) {
    const notebook = notebookPath(source);
    it(`${notebook} runs top to bottom without errors`, () => {
      const outputs = execute(notebook).flat();
      const errors = outputs.filter((o) => o.output_type === 'error').map((o) => `${o.ename}: ${o.evalue}`);
      expect(errors).toEqual([]);
      if (source === '00-setup.ts') {
        const mimes = outputs.flatMap((o) => Object.keys(o.data ?? {}));
        expect(mimes).toEqual(expect.arrayContaining(['application/vnd.plotly.v1+json', 'application/vnd.vegalite.v5+json', 'text/html']));
        const text = outputs.map((o) => [o.text ?? ''].flat().join('')).join('');
        expect(text).toContain('tinyllm: backend wasm');
        expect(text).toContain('naive softmax     [ NaN, NaN, NaN ]');
      }
    }, 600_000);
  }
});
