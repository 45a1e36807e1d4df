// Reading evaluation data: CSV as C-Eval and CMMLU ship it, their directory layouts, and bad input
// reported as file:line: field: reason (rows skipped and counted, structure errors thrown).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../lib/eval/csv.js';
import { readMcq } from '../../../lib/eval/mcq-data.js';
import { CMMLU_SUBJECTS } from '../../../lib/eval/cmmlu-subjects.js';

/** A folder with these files (path → content). */
function folder(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'mcq-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const CEVAL_HEADER = 'id,question,A,B,C,D,answer\n';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and the line each record starts on', () => {
    const text = '\ufeffid,question\r\n0,"a, b"\r\n1,"say ""hi""\nthen go"\n\n2,plain\n';
    expect(parseCsv(text, 'x.csv')).toEqual([
      { fields: ['id', 'question'], line: 1 },
      { fields: ['0', 'a, b'], line: 2 },
      { fields: ['1', 'say "hi"\nthen go'], line: 3 },
      { fields: ['2', 'plain'], line: 6 },
    ]);
  });

  it('names the line of a quote that is never closed', () => {
    expect(() => parseCsv('a,b\n1,"open\n2,3\n', 'x.csv')).toThrow('x.csv:2: a quoted field is never closed');
  });
});

describe('readMcq', () => {
  it("reads C-Eval's layout: the val split by default, dev rows as shots, names from subject_mapping.json", () => {
    const root = folder({
      'val/computer_network_val.csv': `${CEVAL_HEADER}0,Q1,a,b,c,d,B\n1,"Q2, with a comma",a,b,c,d,D\n`,
      'dev/computer_network_dev.csv': `${CEVAL_HEADER.replace('answer', 'answer,explanation')}0,S1,a,b,c,d,A,because\n`,
      'test/computer_network_test.csv': 'id,question,A,B,C,D\n0,T1,a,b,c,d\n',
      'subject_mapping.json': JSON.stringify({ computer_network: ['Computer Network', '计算机网络', 'STEM'] }),
    });
    const set = readMcq(root);
    expect(set.split).toBe('val');
    const [s] = set.subjects;
    expect(s).toMatchObject({ key: 'computer_network', name: '计算机网络' });
    expect(s!.items.map((i) => [i.id, i.question, i.answer, i.line])).toEqual([['0', 'Q1', 'B', 2], ['1', 'Q2, with a comma', 'D', 3]]);
    expect(s!.dev.map((i) => i.question)).toEqual(['S1']);
    // The test split has no answer column: its rows are predicted, not scored.
    expect(readMcq(root, 'test').subjects[0]!.items[0]).toMatchObject({ question: 'T1', answer: null });
  });

  it("reads CMMLU's layout: the test split, an unnamed index column, CMMLU's Chinese name for the file name (else the name itself)", () => {
    const root = folder({
      'test/high_school_physics.csv': ',Question,A,B,C,D,Answer\n0,Q,a,b,c,d,C\n',
      'dev/high_school_physics.csv': ',Question,A,B,C,D,Answer\n0,S,a,b,c,d,A\n',
      'test/my_own_subject.csv': ',Question,A,B,C,D,Answer\n0,Q,a,b,c,d,B\n',
      'test/constructor.csv': ',Question,A,B,C,D,Answer\n0,Q,a,b,c,d,B\n',
    });
    const set = readMcq(root);
    expect(set.split).toBe('test');
    expect(set.subjects.map((s) => [s.key, s.name])).toEqual([['constructor', 'constructor'], ['high_school_physics', '高中物理学'], ['my_own_subject', 'my own subject']]);
    expect(Object.keys(CMMLU_SUBJECTS)).toHaveLength(67);
    expect(set.subjects[1]!.items[0]).toMatchObject({ id: '0', question: 'Q', options: ['a', 'b', 'c', 'd'], answer: 'C' });
    expect(set.subjects[1]!.dev).toHaveLength(1);
  });

  it('reads one CSV file, with its dev rows from the folder beside it', () => {
    const root = folder({ 'val/law_val.csv': `${CEVAL_HEADER}0,Q,a,b,c,d,A\n`, 'dev/law_dev.csv': `${CEVAL_HEADER}0,S,a,b,c,d,B\n` });
    const set = readMcq(join(root, 'val/law_val.csv'));
    expect(set.subjects.map((s) => [s.key, s.items.length, s.dev.length])).toEqual([['law', 1, 1]]);
  });

  it('skips and counts bad rows with file:line: field: reason — a ragged row, an answer outside A–D, an empty option', () => {
    const root = folder({ 'val/x_val.csv': `${CEVAL_HEADER}0,ok,a,b,c,d,A\n1,ragged,a,b,c,A\n2,bad answer,a,b,c,d,E\n3,empty,a,,c,d,B\n4,"ok, too",a,b,c,d,d\n` });
    const file = join(root, 'val/x_val.csv');
    const set = readMcq(root);
    expect(set.subjects[0]!.items.map((i) => i.id)).toEqual(['0']);
    expect(set.skipped).toBe(4);
    expect(set.skippedExamples).toEqual([
      `${file}:3: row: 6 fields, expected 7 as in the header`,
      `${file}:4: answer: "E", expected A, B, C or D`,
      `${file}:5: B: empty`,
      `${file}:6: answer: "d", expected A, B, C or D`,
    ]);
  });

  it('refuses a missing column, an empty file, an empty directory and a missing path', () => {
    const noD = folder({ 'val/x_val.csv': 'id,question,A,B,C,answer\n0,q,a,b,c,A\n' });
    expect(() => readMcq(noD)).toThrow(`${join(noD, 'val/x_val.csv')}:1: header: missing column "D"`);
    const empty = folder({ 'test/x.csv': '' });
    expect(() => readMcq(empty)).toThrow(`${join(empty, 'test/x.csv')}: empty, expected a header line`);
    const none = folder({ 'test/readme.txt': 'nothing here' });
    expect(() => readMcq(none)).toThrow(`${none}: no CSV files in test/; expected C-Eval`);
    expect(() => readMcq(join(none, 'missing'))).toThrow(`${join(none, 'missing')}: not found`);
  });
});
