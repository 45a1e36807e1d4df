// Pre-tokenization: cut text into pieces before BPE, so that merges never cross a word, number or
// punctuation boundary. Hugging Face tokenizer.json files give the rules as Oniguruma regexes; we run
// them as JavaScript regexes after a small translation.
/** Cuts a text segment into pieces; BPE then encodes each piece's UTF-8 bytes on its own. */
export type PreTokenizer = (text: string) => string[];

/**
 * Our split rule (the one Qwen2 and Llama 3 use, with single digits): English words with their leading
 * space or punctuation, runs of CJK characters (BPE then learns words inside them), one digit at a
 * time, punctuation runs, newlines and other whitespace.
 */
export const SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's rule, used by a ByteLevel pre-tokenizer with use_regex: true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/**
 * Translate an Oniguruma pattern (as in tokenizer.json) to a global, Unicode JavaScript RegExp.
 * Two differences matter: JavaScript (in Node 20) has no inline `(?i:…)` groups, and its `\s` is not
 * Unicode's White_Space (it adds U+FEFF and misses U+0085) — Oniguruma's is.
 */
export function onigurumaToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith('(?i:', i)) {
      const end = pattern.indexOf(')', i);
      if (end < 0) throw new Error(`regex '${pattern}': unclosed (?i: group`);
      out += `(?:${caseless(pattern.slice(i + 4, end))})`;
      i = end;
    } else if (pattern[i] === '\\') {
      const next = pattern[i + 1];
      out += next === 's' ? '\\p{White_Space}' : next === 'S' ? '\\P{White_Space}' : `\\${next}`;
      i++;
    } else {
      out += pattern[i];
    }
  }
  try {
    return new RegExp(out, 'gu');
  } catch (err) {
    throw new Error(`regex '${pattern}': not supported (${(err as Error).message})`);
  }
}

// Letters match either case; Unicode folding also maps U+017F (long s) to s and U+212A (Kelvin) to k.
function caseless(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      out += body.slice(i, i + 2);
      i++;
    } else if (/[a-z]/i.test(c)) {
      const extra = /s/i.test(c) ? '\u017f' : /k/i.test(c) ? '\u212a' : '';
      out += `[${c.toLowerCase()}${c.toUpperCase()}${extra}]`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Split into the regex's matches and the gaps between them, in order, as HF's "Isolated" does. */
export function splitIsolated(text: string, re: RegExp): string[] {
  const pieces: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++; // an empty match would loop forever; skip a position
      continue;
    }
    if (m.index > last) pieces.push(text.slice(last, m.index));
    pieces.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

/** Our pre-tokenizer: split with SPLIT_PATTERN. */
export function defaultPreTokenizer(): PreTokenizer {
  const re = onigurumaToRegExp(SPLIT_PATTERN);
  return (text) => splitIsolated(text, re);
}

/** One step of a Hugging Face pre_tokenizer pipeline: text pieces in, text pieces out. */
type Step = (pieces: string[]) => string[];

/**
 * Build a pre-tokenizer from the `pre_tokenizer` object of a tokenizer.json. Supported: Split (regex or
 * string, behavior Isolated), ByteLevel (with or without its GPT-2 regex and prefix space), and Sequence
 * of those. `field` names the place in the file for errors.
 */
export function preTokenizerFromJson(config: unknown, field = 'pre_tokenizer'): PreTokenizer {
  let byteLevel = false;
  const build = (node: unknown, at: string): Step[] => {
    const obj = asObject(node, at);
    switch (obj.type) {
      case 'Sequence': {
        const list = obj.pretokenizers;
        if (!Array.isArray(list)) throw new Error(`${at}.pretokenizers: missing, expected an array`);
        return list.flatMap((child, i) => build(child, `${at}.pretokenizers[${i}]`));
      }
      case 'Split': {
        if (obj.behavior !== 'Isolated') throw new Error(`${at}.behavior: '${String(obj.behavior)}' is not supported, expected 'Isolated'`);
        if (obj.invert) throw new Error(`${at}.invert: true is not supported, expected false`);
        const pattern = asObject(obj.pattern, `${at}.pattern`);
        const re = typeof pattern.Regex === 'string' ? onigurumaToRegExp(pattern.Regex)
          : typeof pattern.String === 'string' ? new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu')
          : fail(`${at}.pattern: expected {"Regex": …} or {"String": …}`);
        return [(pieces) => pieces.flatMap((p) => splitIsolated(p, re))];
      }
      case 'ByteLevel': {
        byteLevel = true;
        const steps: Step[] = [];
        if (obj.add_prefix_space) steps.push((pieces) => pieces.map((p) => (p.startsWith(' ') ? p : ` ${p}`)));
        if (obj.use_regex !== false) {
          const re = onigurumaToRegExp(GPT2_PATTERN);
          steps.push((pieces) => pieces.flatMap((p) => splitIsolated(p, re)));
        }
        return steps; // the byte mapping itself happens in BpeModel.encodePiece
      }
      default:
        throw new Error(`${at}.type: '${String(obj.type)}' is not supported, expected Sequence, Split or ByteLevel`);
    }
  };
  const steps = build(config, field);
  if (!byteLevel) throw new Error(`${field}: no ByteLevel step, expected a byte-level BPE tokenizer`);
  return (text) => steps.reduce((pieces, step) => step(pieces), [text]);
}

/** Our pre-tokenizer as tokenizer.json describes it (what defaultPreTokenizer() does). */
export function defaultPreTokenizerJson(): object {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  };
}

/** `value` as an object with string keys, or an error naming `field`. */
export function asObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${field}: expected an object`);
  return value as Record<string, unknown>;
}

function fail(message: string): never {
  throw new Error(message);
}
