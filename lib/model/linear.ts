// A linear layer without bias, with the weight stored as PyTorch / Hugging Face store it: [out, in].
// Every projection of the model goes through here (LoRA adapters will hook in at this one place).
import * as tf from '@tensorflow/tfjs';

/** y = x Wᵀ for x [..., in] and W [out, in]: y [..., out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = weight.shape[0]!;
  if (weight.shape[1] !== inDim) throw new Error(`linear: input width ${inDim} does not match weight [${weight.shape}]`);
  const flat = tf.reshape(x, [-1, inDim]); // [N, in]
  const y = tf.matMul(flat, weight, false, true); // [N, out]
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}
