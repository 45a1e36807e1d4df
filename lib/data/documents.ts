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
  if (isJsonl(file)) return readJsonl(file, documentText, onDocument);
  const stats = await readTextFile(file, onDocument);
  return { ...stats, documents: stats.bytes > 0 ? 1 : 0, malformed: 0, malformedExamples: [] };
}

/**
 * Call `onRecord` for each non-empty line of a JSONL file that `parse` accepts (awaiting it when it
 * returns a promise). `parse` throws "field: reason" for a line it rejects: the line is skipped,
 * counted, and among the first few kept as an example "file:line: field: reason".
 */
export async function readJsonl<T>(file: string, parse: (value: unknown) => T, onRecord: (record: T, line: number) => unknown): Promise<DocumentFileStats> {
  let documents = 0, malformed = 0, lineNo = 0, partial = '';
  const malformedExamples: string[] = [];
  const jsonLine = async (line: string) => {
    lineNo++;
    if (line.trim() === '') return;
    let record: T;
    try {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new Error(`not valid JSON (${(err as Error).message})`);
      }
      record = parse(value);
    } catch (err) {
      malformed++;
      if (malformedExamples.length < EXAMPLES) malformedExamples.push(`${file}:${lineNo}: ${(err as Error).message}`);
      return;
    }
    documents++;
    await onRecord(record, lineNo);
  };
  const stats = await readTextFile(file, async (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) await jsonLine(line);
  });
  if (partial !== '') await jsonLine(partial);
  return { ...stats, documents, malformed, malformedExamples };
}

/** The text of a {"text": …} record. */
function documentText(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected an object {"text": …}');
  const text = (value as { text?: unknown }).text;
  if (typeof text !== 'string') throw new Error(`field "text": ${text === undefined ? 'missing' : `a ${typeof text}`}, expected a string`);
  return text;
}
