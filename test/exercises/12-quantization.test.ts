// Exercise 12 tests: run against your work with `npm run check -- 12`.
import { describe, expect, it } from 'vitest';
import { packNibbles, q8Dequantize, q8Quantize, quantError, unpackNibbles } from '@exercise/12-quantization.js';
import { halfToFloat } from '../../lib/io/float16.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { Rng } from '../../lib/rng.js';

// llama.cpp's own Python quantizer on trained-like weights (test/fixtures/quant/make_fixtures.py).
const input = readSafetensors('test/fixtures/quant/input.safetensors').tensors;
const expected = readSafetensors('test/fixtures/quant/expected.safetensors').bytes;
const NAME = 'weights';
const BLOCKS = 64;

/** Block b of the fixture's input values and of gguf's bytes for it. */
function fixtureBlock(type: 'q8_0' | 'q4_0', b: number): { x: number[]; bytes: Uint8Array } {
  const size = type === 'q8_0' ? 34 : 18;
  return {
    x: Array.from(input.get(NAME)!.values.subarray(32 * b, 32 * b + 32)),
    bytes: expected.get(`${NAME}.${type}.bytes`)!.bytes.subarray(size * b, size * b + size),
  };
}

describe('q8Quantize and q8Dequantize', () => {
  it('a hand-made block: d = max|x| / 127, levels rounded half away from zero', () => {
    const x = [1.27, -1.27, 0.005, -0.005, 0.015, -0.015, 0.5, 0, ...new Array<number>(24).fill(0.01)];
    const { d, q } = q8Quantize(x);
    expect(d).toBe(Math.fround(1.27 / 127));
    expect(q.slice(0, 8).map((v) => v + 0)).toEqual([127, -127, 1, -1, 2, -2, 50, 0]); // 0.5 → 1 and 1.5 → 2 (roundf), -0.5 → -1
    expect(q.slice(8)).toEqual(new Array<number>(24).fill(1));
    expect(q8Quantize(new Array<number>(32).fill(0)).q.map((v) => v + 0)).toEqual(new Array<number>(32).fill(0));
  });

  it("gives llama.cpp's levels and scale on 64 blocks of trained-like weights, and dequantizes within d/2", () => {
    for (let b = 0; b < BLOCKS; b++) {
      const { x, bytes } = fixtureBlock('q8_0', b);
      const { d, q } = q8Quantize(x);
      expect(q.map((v) => v + 0), `block ${b}`).toEqual(Array.from(bytes.subarray(2), (v) => (v << 24) >> 24)); // + 0: −0 counts as 0
      expect(halfToFloat(bytes[0]! | (bytes[1]! << 8)), `block ${b} scale`).toBeCloseTo(d, 5); // the file stores d in float16
      const back = q8Dequantize({ d, q });
      back.forEach((v, j) => expect(Math.abs(v - x[j]!)).toBeLessThanOrEqual(d / 2 + 1e-9));
    }
  });
});

describe('packNibbles and unpackNibbles', () => {
  it('puts level j in the low nibble of byte j and level j + 16 in its high nibble', () => {
    const levels = Array.from({ length: 32 }, (_, i) => i % 16);
    const bytes = packNibbles(levels);
    expect(bytes).toHaveLength(16);
    expect(bytes[0]).toBe(0x00); // levels 0 and 16: 0 and 0
    expect(bytes[1]).toBe(0x11);
    expect(bytes[15]).toBe(0xff);
    expect(packNibbles([15, ...new Array<number>(15).fill(0), 1, ...new Array<number>(15).fill(0)])[0]).toBe(0x1f);
  });

  it("unpacks llama.cpp's Q4_0 blocks, and packing the levels again gives its bytes back", () => {
    for (let b = 0; b < BLOCKS; b++) {
      const packed = fixtureBlock('q4_0', b).bytes.subarray(2);
      const levels = unpackNibbles(packed);
      expect(levels).toHaveLength(32);
      levels.forEach((l) => expect(l >= 0 && l <= 15).toBe(true));
      expect(packNibbles(levels), `block ${b}`).toEqual(new Uint8Array(packed));
    }
  });
});

describe('quantError', () => {
  it('max, RMS and signal-to-noise of a hand-made reconstruction', () => {
    const e = quantError([3, -4, 0, 0], [2, -4, 1, 0]); // errors 1, 0, -1, 0; signal 25, noise 2
    expect(e.maxAbs).toBe(1);
    expect(e.rms).toBeCloseTo(Math.sqrt(2 / 4), 12);
    expect(e.snrDb).toBeCloseTo(10 * Math.log10(25 / 2), 12);
    expect(quantError([1, 2], [1, 2]).snrDb).toBe(Infinity);
  });

  it('8 bits per block gives about 6 dB per bit more than the 4 of Q4_0 on Gaussian weights', () => {
    const rng = new Rng(3);
    const x = Array.from({ length: 32 * 64 }, () => Math.sqrt(-2 * Math.log(rng.next() + 1e-12)) * Math.cos(2 * Math.PI * rng.next()) * 0.02);
    const q8 = quantError(x, x.flatMap((_, b) => (b % 32 === 0 ? q8Dequantize(q8Quantize(x.slice(b, b + 32))) : [])));
    // A 4-bit reconstruction by hand: round to 16 levels of max|x| / 8 per block.
    const q4 = quantError(x, x.flatMap((_, b) => {
      if (b % 32 !== 0) return [];
      const block = x.slice(b, b + 32);
      const d = Math.max(...block.map(Math.abs)) / 8;
      return block.map((v) => d * Math.max(-8, Math.min(7, Math.round(v / d))));
    }));
    expect(q8.snrDb).toBeGreaterThan(q4.snrDb + 20); // 4 more bits: ~24 dB
    expect(q8.snrDb).toBeLessThan(q4.snrDb + 30);
    expect(q8.maxAbs).toBeLessThan(q4.maxAbs);
  });
});
