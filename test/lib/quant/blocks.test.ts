// Q8_0 and Q4_0 against llama.cpp's own Python quantizer (PyPI gguf's gguf.quants; fixture from
// test/fixtures/quant/make_fixtures.py): the same bytes, the same dequantized values, and the error
// bounds the formats promise. Plus float16, in which the blocks keep their scales.
import { describe, expect, it } from 'vitest';
import { floatToHalf, halfToFloat } from '../../../lib/io/float16.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { dequantize, QUANT_FORMATS, quantFormat, quantize } from '../../../lib/quant/types.js';
import { Rng } from '../../../lib/rng.js';

const input = readSafetensors('test/fixtures/quant/input.safetensors').tensors;
const expected = readSafetensors('test/fixtures/quant/expected.safetensors');

describe('float16', () => {
  it('rounds to nearest even, keeps subnormals, overflows to infinity', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff); // the largest float16
    expect(floatToHalf(65520)).toBe(0x7c00); // halfway to the next: rounds to even, infinity
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie: to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // a tie: to even, upwards
    expect(floatToHalf(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(floatToHalf(2 ** -25)).toBe(0x0000); // a tie with zero: to even
    expect(floatToHalf(NaN) & 0x7e00).toBe(0x7e00);
    for (let h = 0; h < 0x7c00; h += 7) expect(floatToHalf(halfToFloat(h))).toBe(h); // every finite value round-trips
  });
});

describe.each(['q8_0', 'q4_0'] as const)('%s against gguf.quants', (type) => {
  const format = QUANT_FORMATS[type];
  it.each(['normal', 'edge', 'weights'])('%s: byte for byte, and the same dequantized values', (name) => {
    const values = input.get(name)!.values;
    const bytes = quantize(values, format);
    expect(Buffer.from(bytes).equals(Buffer.from(expected.bytes.get(`${name}.${type}.bytes`)!.bytes))).toBe(true);
    expect(Array.from(dequantize(bytes, format))).toEqual(Array.from(expected.tensors.get(`${name}.${type}.dequant`)!.values));
  });

  it('stays within its error bound: d/2 (Q8_0) or d (Q4_0) per weight, plus what storing d as float16 moves', () => {
    const rng = new Rng(1);
    const values = Float32Array.from({ length: 32 * 200 }, () => (rng.next() - 0.5) * 10 ** (rng.int(5) - 2));
    const back = dequantize(quantize(values, format), format);
    for (let b = 0; b < 200; b++) {
      const block = values.subarray(32 * b, 32 * b + 32);
      const amax = Math.max(...Array.from(block, Math.abs));
      const step = type === 'q8_0' ? amax / 127 : amax / 8;
      // Levels are multiples of the float16 d, off the float32 d by ≤ 2⁻¹¹ relative, at most 127 (8) levels out.
      const bound = (type === 'q8_0' ? step / 2 + 127 * step * 2 ** -11 : step + 8 * step * 2 ** -11) + 1e-12;
      for (let j = 0; j < 32; j++) expect(Math.abs(back[32 * b + j]! - block[j]!)).toBeLessThanOrEqual(bound);
    }
    expect(quantize(values, format).length).toBe((200 * format.blockBytes));
  });
});

describe('quantFormat', () => {
  it('names the known types when given another', () => {
    expect(quantFormat('q8_0').blockBytes).toBe(34);
    expect(() => quantFormat('q3_k')).toThrow("--type: 'q3_k', expected one of q8_0, q4_0");
    expect(() => quantize(new Float32Array(33), QUANT_FORMATS.q8_0)).toThrow('q8_0: 33 values are not a whole number of 32-value blocks');
  });
});
