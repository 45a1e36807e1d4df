// Notebook sources are TypeScript files with cell markers, so diffs read like code:
//
//   // %% [markdown]
//   // # A title
//   // Some *markdown*.
//   // %%
//   const x = 1;
//
// sourceToNotebook() turns one into the .ipynb JupyterLab opens (kernel tslab, no outputs).
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

/** A cell as nbformat 4.5 stores it. */
export interface NotebookCell {
  id: string;
  cell_type: 'markdown' | 'code';
  metadata: Record<string, never>;
  source: string[];
  outputs?: never[];
  execution_count?: null;
}

/** An nbformat 4.5 notebook. */
export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: 4;
  nbformat_minor: 5;
}

/** Where notebook sources live and where the notebooks go. */
export const NOTEBOOK_DIR = 'notebooks';
export const SOURCE_DIR = join(NOTEBOOK_DIR, 'src');

/** Source file names, e.g. ['00-setup.ts', …], in course order. */
export function notebookSources(): string[] {
  return readdirSync(SOURCE_DIR).filter((f) => /^\d\d-[\w-]+\.ts$/.test(f)).sort();
}

/** The notebook path built from a source name. */
export function notebookPath(source: string): string {
  return join(NOTEBOOK_DIR, source.replace(/\.ts$/, '.ipynb'));
}

const MARKER = /^\/\/ %%( \[markdown\])?\s*$/;

/** Convert a notebook source (see the header) to a notebook; `file` names it in errors and cell ids. */
export function sourceToNotebook(text: string, file: string): Notebook {
  const stem = basename(file).replace(/\.ts$/, '');
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (!MARKER.test(lines[0] ?? '')) {
    throw new Error(`${file}:1: first line: expected a cell marker '// %%' or '// %% [markdown]'`);
  }
  const cells: NotebookCell[] = [];
  let kind: 'markdown' | 'code' = 'code';
  let body: string[] = [];
  let startLine = 1;
  const flush = () => {
    const source = kind === 'markdown' ? body.map((l, i) => uncomment(l, file, startLine + 1 + i)) : body;
    while (source.length > 0 && source[source.length - 1]!.trim() === '') source.pop();
    while (source.length > 0 && source[0]!.trim() === '') source.shift();
    if (source.length === 0) throw new Error(`${file}:${startLine}: cell: empty cell, expected content or no marker`);
    const id = `${stem}-${String(cells.length).padStart(2, '0')}`;
    const joined = source.map((l, i) => (i < source.length - 1 ? `${l}\n` : l));
    cells.push(
      kind === 'code'
        ? { id, cell_type: 'code', metadata: {}, source: joined, outputs: [], execution_count: null }
        : { id, cell_type: 'markdown', metadata: {}, source: joined },
    );
  };
  lines.forEach((line, i) => {
    const m = MARKER.exec(line);
    if (!m) {
      body.push(line);
      return;
    }
    if (i > 0) flush();
    kind = m[1] ? 'markdown' : 'code';
    body = [];
    startLine = i + 1;
  });
  flush();
  return {
    cells,
    metadata: {
      kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' },
      language_info: { name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** The exact text written to disk: stable key order, one-space indent as Jupyter writes. */
export function notebookText(nb: Notebook): string {
  return `${JSON.stringify(nb, null, 1)}\n`;
}

function uncomment(line: string, file: string, lineNo: number): string {
  if (line === '//') return '';
  if (line.startsWith('// ')) return line.slice(3);
  if (line.trim() === '') return '';
  throw new Error(`${file}:${lineNo}: markdown cell: line does not start with '// ', expected every markdown line commented`);
}
