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
    const { initialValLoss, finalValLoss } = await runDemo({ out: mkdtempSync(join(tmpdir(), 'demo-')), steps: 60 });
    expect(initialValLoss).toBeCloseTo(Math.log(6400), 0); // untrained: close to a uniform guess over 6,400 tokens
    expect(finalValLoss).toBeLessThan(initialValLoss - 1);
  }, 300_000);
});
