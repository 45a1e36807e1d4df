// Byte-level BPE works on bytes, not characters: every string is UTF-8 bytes, so every string encodes.
// GPT-2's trick (kept by every byte-level tokenizer.json) shows each byte as a printable character:
// printable Latin-1 bytes stand for themselves, the other 68 are shifted to U+0100…U+0143
// (so a space, byte 0x20, appears as 'Ġ' and a newline as 'Ċ').

/** BYTE_TO_CHAR[b] is the character that stands for byte b in vocabularies and merges. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** The inverse of BYTE_TO_CHAR: character code -> byte (or -1). */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((ch, b) => (table[ch.charCodeAt(0)] = b));
  return table;
})();

function buildByteToChar(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(printable(b) ? b : 256 + shifted++));
  return chars;
}

const encoder = new TextEncoder();

/** The byte-level form of a string: its UTF-8 bytes, each shown as its BYTE_TO_CHAR character. */
export function toByteLevel(text: string): string {
  const bytes = encoder.encode(text);
  let out = '';
  for (const b of bytes) out += BYTE_TO_CHAR[b];
  return out;
}

/** The bytes a byte-level token string stands for; throws on a character that is not a byte. */
export function fromByteLevel(token: string): Uint8Array {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code]! : -1;
    if (b < 0) throw new Error(`token '${token}': character U+${code.toString(16).padStart(4, '0')} is not a byte-level character`);
    bytes[i] = b;
  }
  return bytes;
}
