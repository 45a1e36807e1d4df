// tfjs ships no gradient for TopK, and MoE routing differentiates through it (autodiff walks back from
// the one-hot of the chosen experts). The values output's gradient goes back to the input position
// each value came from; the indices output has none.
import * as tf from '@tensorflow/tfjs';

if (!tf.getGradient('TopK')) {
  tf.registerGradient({
    kernelName: 'TopK',
    inputsToSave: ['x'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved) => {
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      const dValues = Array.isArray(dy) ? dy[0]! : dy; // [..., k]
      const n = x.shape[x.shape.length - 1]!;
      // [..., k, n] one-hot of where each value came from, weighted by its dy, summed over k: [..., n].
      return { x: () => tf.sum(tf.mul(tf.oneHot(indices, n), tf.expandDims(dValues, -1)), -2) };
    },
  });
}
