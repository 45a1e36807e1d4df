// Reading a result back to the host: the values of a tensor made inside a tf.tidy. The read happens
// after the tidy, not inside it: a typed array returned from tf.tidy is searched value by value for
// tensors to keep (tfjs walks whatever a tidy returns), which for a step's logits — 6,400 values per
// row — costs more than the step.
import * as tf from '@tensorflow/tfjs';

/** The values of the float32 tensor `make` returns (its intermediates freed, the tensor too). */
export function floatValuesOf(make: () => tf.Tensor): Float32Array {
  const t = tf.tidy(make);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}
