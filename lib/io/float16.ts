// IEEE half precision (float16: 1 sign, 5 exponent, 10 fraction bits), as safetensors' F16 and the
// scales of GGUF's quantized blocks store it.

// One float32 and its bits, reused: floatToHalf runs once per weight of an export.
const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The float16 bits nearest to x (ties to even; overflow to ±Infinity, NaN stays NaN). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = bits[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  const mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15; // the exponent re-biased for float16
  if (e >= 31) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // Subnormal (or zero): the 24-bit significand shifted right into the 10 fraction bits, rounded.
    if (e < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = significand & ((1 << shift) - 1);
    let h = significand >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still right
  return sign | h;
}

/** The value of float16 bits. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

let table: Float32Array | null = null;

/** halfToFloat of all 65,536 bit patterns (built on first use, 256 KB): a lookup for loops over many scales. */
export function halfTable(): Float32Array {
  return (table ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h)));
}
