// CSV as C-Eval and CMMLU ship it (RFC 4180): fields separated by commas, a field holding a comma, a
// quote or a line break is quoted and its quotes are doubled. Each record keeps the line it starts on,
// so that an error can say `file:line`.

/** One record: its fields and the (1-based) line of the file where it starts. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Parse CSV text into records (a UTF-8 BOM and \r\n line ends are accepted); blank lines are skipped. */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false; // inside a quoted field
  let line = 1;
  let start = 1; // line of the record being read
  let quoteLine = 0; // where the open quote was, for the error
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') records.push({ fields, line: start });
    fields = [];
    field = '';
  };
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
    }
  }
  if (quoted) throw new Error(`${file}:${quoteLine}: a quoted field is never closed`);
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}
