// 2^x in one instruction, for the softmax loops (attention's, the cross-entropy's over the vocabulary).
//
// exp2f() compiles to the hardware's approximate 2^x (MUFU.EX2, ~2 ulp) with a scaling around it that
// keeps results below float32's normal range (< 2^−126) from flushing to zero: a compare and two
// multiplies more per value. Softmax probabilities that small add nothing to a float32 sum, so these
// loops take the instruction alone (`.ftz`: such results are 0), one issue slot a value instead of four.
// Attention at 92m on an H100: backward 5.34 → 5.04 ms a step, forward 1.86 → 1.71.
export const EXP2_SOURCE = `
__device__ __forceinline__ float exp2_fast(float x) { float y; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }
`;
