// Reverse mode over tfjs's tape, freeing as it goes. tf.variableGrads keeps every gradient it computes,
// and every tensor the forward pass saved for the backward, until the whole backward pass is done
// (tfjs-core's backpropagateGradients disposes nothing on the way): at the end of a 92m step that is
// ~5 GB of gradients nobody will read again, on top of the activations — the step's peak. Here a
// node's output gradients and saved tensors are released as soon as its own backward has run, as
// PyTorch's autograd does, so memory falls through the backward pass instead of climbing. The same tape,
// gradient functions and order as tf.variableGrads: the same values.
import * as tf from '@tensorflow/tfjs';

/** One recorded op (tfjs-core's TapeNode). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs's engine that recording uses (tfjs-core 4.22; private in its typings). */
interface Engine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

/**
 * The value of `f` (a scalar) and its gradient with respect to each of `xs` that it depends on, by
 * variable name — what tf.variableGrads(f, xs) returns, at the memory cost of one layer's backward at a
 * time instead of all of them.
 */
export function variableGradients(f: () => tf.Scalar, xs: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as Engine;
  if (engine.state.gradientDepth !== 0) throw new Error('variableGradients: not inside another gradient computation');
  engine.startTape(); // (ops now record themselves on the tape)
  let value: tf.Scalar;
  try {
    value = tf.tidy('forward', f);
  } finally {
    engine.endTape();
  }
  const tape = engine.state.activeTape!;
  if (value.rank !== 0) throw new Error(`variableGradients: f must return a scalar, got rank ${value.rank}`);
  return tf.tidy('backward', () => {
    // The ops that depend on an x: those with an input that does (in tape order, inputs come first).
    const fromX = new Set(xs.map((x) => x.id));
    const nodes = tape.filter((node) => {
      const depends = Object.values(node.inputs).some((t) => fromX.has(t.id));
      if (depends) node.outputs.forEach((o) => fromX.add(o.id));
      return depends;
    });
    // Gradients so far by tensor id. One gradient may stand for several tensors (an op whose gradient
    // passes dy through, such as Add or Reshape's), so each is disposed when the last of them lets go.
    const grads = new Map<number, tf.Tensor>();
    const holders = new Map<tf.Tensor, number>();
    const hold = (id: number, g: tf.Tensor) => {
      grads.set(id, g);
      holders.set(g, (holders.get(g) ?? 0) + 1);
    };
    const release = (id: number) => {
      const g = grads.get(id);
      if (!g) return;
      grads.delete(id);
      const left = holders.get(g)! - 1;
      if (left > 0) holders.set(g, left);
      else {
        holders.delete(g);
        g.dispose();
      }
    };
    hold(value.id, tf.onesLike(value));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      if (dys.every((dy) => dy === null)) continue; // the loss does not depend on this op
      if (!node.gradient) throw new Error(`variableGradients: no gradient is registered for ${node.kernelName}`);
      const inputGradients = node.gradient(dys);
      for (const [name, x] of Object.entries(node.inputs)) {
        if (!fromX.has(x.id)) continue;
        const dx = tf.tidy(() => inputGradients[name]!());
        if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`variableGradients: the gradient of ${node.kernelName}'s input ${name} is ${dx.dtype} [${dx.shape}], expected float32 [${x.shape}]`);
        }
        const previous = grads.get(x.id);
        if (!previous) {
          hold(x.id, dx);
          continue;
        }
        // x feeds several ops: sum their gradients.
        const sum = tf.add(previous, dx);
        release(x.id);
        if (!holders.has(dx)) dx.dispose();
        hold(x.id, sum);
      }
      // Nothing reads this op's output gradients or its saved tensors again.
      node.outputs.forEach((o) => release(o.id));
      node.saved?.forEach((t) => holders.has(t) || t.dispose());
    }
    const named: tf.NamedTensorMap = {};
    for (const x of xs) if (grads.has(x.id)) named[x.name] = grads.get(x.id)!;
    // The ops off the path to the loss saved tensors too: free them as tf.variableGrads does.
    tape.forEach((node) => node.saved?.forEach((t) => t.dispose()));
    engine.state.activeTape = null;
    if (Object.keys(named).length === 0) throw new Error('variableGradients: the value does not depend on any of the variables');
    return { value, grads: named };
  });
}
