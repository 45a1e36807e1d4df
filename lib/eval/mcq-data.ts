// Multiple-choice items in the official file layouts, so that `tinyllm eval` reads the downloads as
// they come:
//   C-Eval  <dir>/{dev,val,test}/{subject}_{split}.csv   id,question,A,B,C,D,answer[,explanation]
//           <dir>/subject_mapping.json                    {"subject": ["English", "中文", "category"]}
//   CMMLU   <dir>/{dev,test}/{subject}.csv               ,Question,A,B,C,D,Answer
// or one such CSV file. A bad row is skipped and counted (`file:line: field: reason`); a bad structure
// (no files, a missing column) is an error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CMMLU_SUBJECTS } from './cmmlu-subjects.js';
import { parseCsv } from './csv.js';

export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = (typeof LETTERS)[number];

/** One question with four options. */
export interface McqItem {
  file: string;
  line: number;
  /** C-Eval's id column, CMMLU's unnamed index column. */
  id: string;
  question: string;
  options: [string, string, string, string];
  /** null where the file gives none (C-Eval's test split): predicted, not scored. */
  answer: Letter | null;
}

/** The items of one subject (one file) and its worked examples for few-shot prompts. */
export interface McqSubject {
  /** The file's name without `.csv` and the `_{split}` suffix, e.g. `computer_network`. */
  key: string;
  /** As the prompt names it: the Chinese name from subject_mapping.json or CMMLU's table, else the key with spaces. */
  name: string;
  file: string;
  items: McqItem[];
  /** The dev split's rows for this subject, in file order ([] when there is no dev file). */
  dev: McqItem[];
}

/** What readMcq found. */
export interface McqSet {
  split: string;
  subjects: McqSubject[];
  /** Rows skipped, and the first few as "file:line: field: reason". */
  skipped: number;
  skippedExamples: string[];
}

const EXAMPLES = 5;
const LAYOUTS = 'C-Eval (<dir>/val/{subject}_val.csv: id,question,A,B,C,D,answer) or CMMLU (<dir>/test/{subject}.csv: ,Question,A,B,C,D,Answer)';

/**
 * Read a C-Eval or CMMLU directory, or one CSV file. `split` defaults to `val` where the directory has
 * one (C-Eval's test split has no answers) and to `test` otherwise (CMMLU).
 */
export function readMcq(path: string, split?: string): McqSet {
  if (!existsSync(path)) throw new Error(`${path}: not found; expected a CSV file or a directory in the layout of ${LAYOUTS}`);
  const skipped = { count: 0, examples: [] as string[] };
  if (statSync(path).isFile()) {
    const fileSplit = basename(dirname(path));
    const subject = readSubject(path, fileSplit, dirname(dirname(path)), skipped);
    return { split: fileSplit, subjects: [subject], skipped: skipped.count, skippedExamples: skipped.examples };
  }
  const chosen = split ?? (existsSync(join(path, 'val')) ? 'val' : 'test');
  const dir = join(path, chosen);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.csv')).sort() : [];
  if (files.length === 0) throw new Error(`${path}: no CSV files in ${chosen}/; expected ${LAYOUTS}`);
  const subjects = files.map((f) => readSubject(join(dir, f), chosen, path, skipped));
  return { split: chosen, subjects, skipped: skipped.count, skippedExamples: skipped.examples };
}

/** One subject's file, its name, and its dev rows (looked for in root/dev/). */
function readSubject(file: string, split: string, root: string, skipped: { count: number; examples: string[] }): McqSubject {
  const key = basename(file, '.csv').replace(new RegExp(`_${split}$`), '');
  const skip = (reason: string) => {
    skipped.count++;
    if (skipped.examples.length < EXAMPLES) skipped.examples.push(reason);
  };
  const devFile = [join(root, 'dev', `${key}_dev.csv`), join(root, 'dev', `${key}.csv`)].find((f) => f !== file && existsSync(f));
  const dev = devFile ? readItems(devFile, skip).filter((item) => item.answer !== null || (skip(`${devFile}:${item.line}: answer: missing (a dev row is a worked example)`), false)) : [];
  return { key, name: subjectName(root, key), file, items: readItems(file, skip), dev };
}

/** The Chinese name from C-Eval's subject_mapping.json beside the splits, else CMMLU's name for the key, else the key with spaces. */
function subjectName(root: string, key: string): string {
  const mapping = join(root, 'subject_mapping.json');
  if (existsSync(mapping)) {
    let names: unknown;
    try {
      names = JSON.parse(readFileSync(mapping, 'utf8'));
    } catch (err) {
      throw new Error(`${mapping}: not valid JSON (${(err as Error).message})`);
    }
    const entry = (names as Record<string, unknown>)[key];
    if (Array.isArray(entry) && typeof entry[1] === 'string' && entry[1] !== '') return entry[1];
  }
  return Object.hasOwn(CMMLU_SUBJECTS, key) ? CMMLU_SUBJECTS[key]! : key.replace(/_/g, ' ');
}

/** The rows of one CSV file; bad rows go to `skip`. */
function readItems(file: string, skip: (reason: string) => void): McqItem[] {
  const records = parseCsv(readFileSync(file, 'utf8'), file);
  if (records.length === 0) throw new Error(`${file}: empty, expected a header line (${LAYOUTS})`);
  const [header, ...rows] = records;
  const names = header!.fields.map((f) => f.trim().toLowerCase());
  const column = (name: string) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`${file}:${header!.line}: header: missing column "${name === 'question' ? 'question' : name.toUpperCase()}" (expected ${LAYOUTS})`);
    return i;
  };
  const id = names[0] === '' ? 0 : column('id');
  const question = column('question');
  const options = (['a', 'b', 'c', 'd'] as const).map(column);
  const answer = names.indexOf('answer'); // absent in C-Eval's test split
  const items: McqItem[] = [];
  for (const { fields, line } of rows) {
    const at = `${file}:${line}`;
    if (fields.length !== names.length) {
      skip(`${at}: row: ${fields.length} fields, expected ${names.length} as in the header`);
      continue;
    }
    const empty = [['question', question] as const, ...options.map((i, k) => [LETTERS[k]!, i] as const)].find(([, i]) => fields[i]!.trim() === '');
    if (empty) {
      skip(`${at}: ${empty[0]}: empty`);
      continue;
    }
    const given = answer >= 0 ? fields[answer]!.trim() : '';
    if (given !== '' && !(LETTERS as readonly string[]).includes(given)) {
      skip(`${at}: answer: ${JSON.stringify(given)}, expected A, B, C or D`);
      continue;
    }
    items.push({
      file, line, id: fields[id]!, question: fields[question]!,
      options: options.map((i) => fields[i]!) as McqItem['options'],
      answer: given === '' ? null : (given as Letter),
    });
  }
  return items;
}
