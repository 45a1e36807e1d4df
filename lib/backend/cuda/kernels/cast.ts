// Cast between float32, int32 and bool (all stored as 4-byte values on the device).

/** The CUDA source converting elements of type `from` to `to`; bool means "not zero". */
export function castSource(from: 'float' | 'int', to: 'float' | 'int' | 'bool'): string {
  const name = castKernelName(from, to);
  const expr = to === 'bool' ? '(int)(x != 0)' : `(${to})x`;
  return `extern "C" __global__ void ${name}(${to === 'bool' ? 'int' : to}* out, const ${from}* in, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    ${from} x = in[i];
    out[i] = ${expr};
  }
}
`;
}

/** The kernel's name, e.g. cast_float_int. */
export function castKernelName(from: string, to: string): string {
  return `cast_${from}_${to}`;
}
