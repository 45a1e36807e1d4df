// Committed notebooks are generated from notebooks/src: they must match, carry no outputs, use tslab.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { notebookPath, notebookSources, notebookText, SOURCE_DIR, sourceToNotebook } from '../../notebooks/tools/ipynb.js';

describe('notebook sources', () => {
  const sources = notebookSources();

  it('every notebook has a source and every source a notebook', () => {
    const notebooks = readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).sort();
    expect(notebooks).toEqual(sources.map((s) => s.replace(/\.ts$/, '.ipynb')));
    expect(sources).toContain('00-setup.ts');
  });

  for (const source of sources) {
    it(`${notebookPath(source)} is up to date (run npm run notebooks)`, () => {
      const file = join(SOURCE_DIR, source);
      const built = notebookText(sourceToNotebook(readFileSync(file, 'utf8'), file));
      expect(readFileSync(notebookPath(source), 'utf8')).toBe(built);
      const nb = JSON.parse(built);
      expect(nb.metadata.kernelspec.name).toBe('tslab');
      for (const cell of nb.cells) if (cell.cell_type === 'code') expect(cell.outputs).toEqual([]);
    });
  }
});

describe('sourceToNotebook', () => {
  it('splits cells, uncomments markdown and trims blank edges', () => {
    const nb = sourceToNotebook('// %% [markdown]\n// # Hi\n//\n// text\n\n// %%\nconst a = 1;\n\nconsole.log(a);\n\n', 'notebooks/src/99-x.ts');
    expect(nb.cells.map((c) => [c.id, c.cell_type, c.source])).toEqual([
      ['99-x-00', 'markdown', ['# Hi\n', '\n', 'text']],
      ['99-x-01', 'code', ['const a = 1;\n', '\n', 'console.log(a);']],
    ]);
  });
  it('names file and line of a missing first marker', () => {
    expect(() => sourceToNotebook('const a = 1;\n', 'x.ts')).toThrow("x.ts:1: first line: expected a cell marker '// %%'");
  });
  it('names file and line of an uncommented markdown line', () => {
    expect(() => sourceToNotebook('// %% [markdown]\n// ok\nnot a comment\n', 'x.ts')).toThrow(
      "x.ts:3: markdown cell: line does not start with '// '",
    );
  });
  it('rejects empty cells', () => {
    expect(() => sourceToNotebook('// %%\n\n// %%\nx\n', 'x.ts')).toThrow('x.ts:1: cell: empty cell');
  });
});
