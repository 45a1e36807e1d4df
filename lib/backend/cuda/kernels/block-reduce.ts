// CUDA device helpers shared by the row kernels: sum and max over a thread block (warp shuffles, then
// one value per warp through shared memory). Every thread gets the result. Blocks of ≤ 1024 threads.
/** Threads per block of the row kernels (one block per row). */
export const ROW_BLOCK = 256;

export const BLOCK_REDUCE = `
__device__ float warp_sum(float v) { for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o); return v; }
__device__ float warp_max(float v) { for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o)); return v; }
__device__ float block_reduce(float v, bool is_max) {
  __shared__ float part[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  float identity = is_max ? __int_as_float(0xff800000) : 0.0f;
  float w = lane < warps ? part[lane] : identity;
  return is_max ? warp_max(w) : warp_sum(w);
}
__device__ float block_sum(float v) { return block_reduce(v, false); }
__device__ float block_max(float v) { return block_reduce(v, true); }
`;
