import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../lib/io/atomic.js';

describe('writeFileAtomic', () => {
  it('writes text and bytes, replaces an old file, and leaves no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const file = join(dir, 'out.json');
    writeFileSync(file, 'old');
    writeFileAtomic(file, '{"新": 1}');
    expect(readFileSync(file, 'utf8')).toBe('{"新": 1}');
    writeFileAtomic(file, new Uint8Array([0, 255, 7]));
    expect(Array.from(readFileSync(file))).toEqual([0, 255, 7]);
    expect(readdirSync(dir)).toEqual(['out.json']);
  });
  it('fails loudly and creates nothing when the target folder is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    expect(() => writeFileAtomic(join(dir, 'no', 'such.txt'), 'x')).toThrow(/ENOENT/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});
