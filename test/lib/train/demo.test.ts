// `npm run demo`, shortened: the shipped corpus and tokenizer, nano on wasm; the validation loss must fall.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { runDemo } from '../../../lib/train/demo.js';

await initBackend('wasm', { quiet: true });

describe('demo', () => {
  it('drops the validation loss well below the untrained model’s in 60 steps', async () => {
    const lines: string[] = [];
    const { initialValLoss, finalValLoss } = await runDemo({ out: mkdtempSync(join(tmpdir(), 'demo-')), steps: 60, log: (line) => lines.push(line) });
    expect(initialValLoss).toBeCloseTo(Math.log(6400), 0); // untrained: close to a uniform guess over 6,400 tokens
    expect(finalValLoss).toBeLessThan(initialValLoss - 1);
    // The report: validation every 12 steps, then for each prompt the three likeliest next tokens, untrained and trained.
    expect(lines.filter((l) => /^ {3}step +\d+ +loss [\d.]+ +val [\d.]+/.test(l))).toHaveLength(5);
    const expected = lines.slice(lines.indexOf('4. the tokens it expects next, untrained → trained:') + 1, lines.indexOf('5. the trained model, prompted:'));
    expect(expected.map((l) => l.trim().split(/\s+/)[0])).toEqual(['床前明月', '操作系', 'The']);
    for (const pair of expected) expect(pair.match(/"(?:[^"\\]|\\.)*" \d+(\.\d+)?%/g)).toHaveLength(6);
    // Samples are text: no special tokens, no U+FFFD from a cut-off character at the end.
    for (const sample of lines.slice(lines.indexOf('5. the trained model, prompted:') + 1)) expect(sample).not.toMatch(/<\||\uFFFD$/);
  }, 300_000);
});
