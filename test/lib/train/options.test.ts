// Training defaults live in lib/train/options.ts; callers give only what they change.
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../../lib/model/config.js';
import { DPO_OPTIONS, resolveTrainOptions, SFT_DEFAULTS, TRAIN_DEFAULTS } from '../../../lib/train/options.js';

describe('resolveTrainOptions', () => {
  const base = { data: 'd', out: 'o', config: presetConfig('nano') };

  it('fills every default, and derives seq, minLr and warmup from the others', () => {
    const o = resolveTrainOptions(base);
    expect(o).toEqual({ ...TRAIN_DEFAULTS, ...base, seq: 256, minLr: TRAIN_DEFAULTS.lr / 10, warmup: 100, dpo: DPO_OPTIONS });
    const short = resolveTrainOptions({ ...base, config: presetConfig('nano', { maxSeq: 64 }), steps: 30, lr: 0.02 });
    expect([short.seq, short.minLr, short.warmup]).toEqual([64, 0.002, 3]);
  });

  it('treats a setting given as undefined as not given (the CLI passes absent flags so)', () => {
    const o = resolveTrainOptions({ ...base, steps: undefined, lr: undefined, minLr: undefined, batch: 2 });
    expect([o.steps, o.lr, o.minLr, o.batch]).toEqual([TRAIN_DEFAULTS.steps, TRAIN_DEFAULTS.lr, TRAIN_DEFAULTS.lr / 10, 2]);
  });

  it('takes the defaults of the kind of run, and SFT data\'s prepared length for seq; DPO settings merge over TRL\'s', () => {
    const o = resolveTrainOptions({ ...base, dpo: { beta: 0.3 } as never }, SFT_DEFAULTS, 384);
    expect([o.steps, o.batch, o.lr, o.seq]).toEqual([SFT_DEFAULTS.steps, SFT_DEFAULTS.batch, SFT_DEFAULTS.lr, 384]);
    expect(o.dpo).toEqual({ ...DPO_OPTIONS, beta: 0.3 });
  });
});
