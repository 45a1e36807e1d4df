// Documents from pretraining files: JSONL with one {"text": "…"} per line (the minimind and
// tiny-llm-zh format), or plain text (each file one stream of text). Either may be gzipped.
import { readTextFile, type TextFileStats } from './text.js';

/** What reading a document file found; malformed JSONL lines are skipped and listed here. */
export interface DocumentFileStats extends TextFileStats {
  documents: number;
  /** Malformed lines: how many, and the first few as "file:line: reason". */
  malformed: number;
  malformedExamples: string[];
}

const EXAMPLES = 5;

/** Whether a file is JSONL by its name (.jsonl or .jsonl.gz). */
export function isJsonl(file: string): boolean {
  return /\.jsonl(\.gz)?$/.test(file);
}

/** Call `onDocument` for each document of a file (awaiting it when it returns a promise) and return what was read. */
export async function readDocuments(file: string, onDocument: (text: string) => unknown): Promise<DocumentFileStats> {
  let documents = 0, malformed = 0, lineNo = 0, partial = '';
  const malformedExamples: string[] = [];
  const jsonl = isJsonl(file);
  const jsonLine = async (line: string) => {
    lineNo++;
    if (line.trim() === '') return;
    const text = documentText(line);
    if (typeof text === 'string') {
      documents++;
      await onDocument(text);
    } else {
      malformed++;
      if (malformedExamples.length < EXAMPLES) malformedExamples.push(`${file}:${lineNo}: ${text.error}`);
    }
  };
  const stats = await readTextFile(file, async (chunk) => {
    if (!jsonl) {
      documents = 1;
      await onDocument(chunk);
      return;
    }
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) await jsonLine(line);
  });
  if (jsonl && partial !== '') await jsonLine(partial);
  return { ...stats, documents, malformed, malformedExamples };
}

function documentText(line: string): string | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { error: `not valid JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'expected an object {"text": …}' };
  const text = (value as { text?: unknown }).text;
  if (typeof text !== 'string') return { error: `field "text": ${text === undefined ? 'missing' : `a ${typeof text}`}, expected a string` };
  return text;
}
