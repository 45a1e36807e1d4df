// Reverse mode over tfjs's tape, freeing as it goes. tf.variableGrads keeps the gradient of every tensor
// on the way, and every tensor the forward pass saved for the backward, until the whole backward pass is
// done (tfjs-core's backpropagateGradients frees only running sums it replaces): at the end of a 92m
// step that is ~5 GB nobody will read again, on top of the activations — the step's peak. Here a
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
  state: { activeTape: TapeNode[] | null | undefined; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

/** The tape being recorded (a function: TypeScript would keep the narrowing of a check made before recording). */
const recorded = (engine: Engine): TapeNode[] | null | undefined => engine.state.activeTape;

/**
 * The value of `f` (a scalar) and its gradient with respect to each trainable variable of `xs` that it
 * depends on, by variable name — what tf.variableGrads(f, xs) returns, at the memory cost of one op's
 * backward at a time on top of what the forward pass saved, instead of every gradient at once.
 */
export function variableGradients(f: () => tf.Scalar, xs: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as Engine;
  if (engine.state.gradientDepth !== 0 || engine.state.activeTape != null) { // (undefined before any gradient)
    throw new Error('variableGradients: cannot be called while another gradient is being recorded or computed (inside the f of tf.grad, tf.variableGrads or variableGradients)');
  }
  const trainable = xs.filter((x) => x.trainable);
  if (trainable.length === 0) throw new Error(`variableGradients: none of the ${xs.length} variables is trainable`);
  engine.startTape(); // (ops now record themselves on the tape)
  let value: tf.Scalar | null = null;
  const returned = new Set<tf.Tensor>();
  try {
    try {
      value = tf.tidy('forward', f);
    } finally {
      engine.endTape();
    }
    if (value.rank !== 0) throw new Error(`variableGradients: f must return a scalar, got rank ${value.rank}`);
    const grads = backward(recorded(engine)!, value, trainable);
    Object.values(grads).forEach((g) => returned.add(g));
    return { value, grads };
  } catch (err) {
    value?.dispose();
    throw err;
  } finally {
    // Every op saved its tensors (clones, kept past any tidy): free what the walk did not, as tf.variableGrads
    // does — also when f or a gradient threw, so that the next call starts clean.
    recorded(engine)?.forEach((node) => node.saved?.forEach((t) => returned.has(t) || t.dispose()));
    engine.state.activeTape = null;
  }
}

/** The walk back over the tape from `value` to `xs`, freeing as it goes. */
function backward(tape: TapeNode[], value: tf.Scalar, xs: tf.Variable[]): tf.NamedTensorMap {
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
    hold(value.id, tf.ones(value.shape));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      if (dys.every((dy) => dy === null)) continue; // the loss does not depend on this op
      if (!node.gradient) throw new Error(`variableGradients: no gradient is registered for ${node.kernelName}`);
      // All of the op's input gradients first (one may be computed from another), its temporaries —
      // zeros for outputs without a gradient among them — freed with the tidy.
      const inputs = Object.entries(node.inputs).filter(([, x]) => fromX.has(x.id));
      const dxs = tf.tidy(() => {
        const inputGradients = node.gradient!(dys);
        return inputs.map(([name]) => {
          if (!(name in inputGradients)) throw new Error(`variableGradients: ${node.kernelName}'s gradient has none for its input ${name} (it has ${Object.keys(inputGradients)})`);
          return inputGradients[name]!();
        });
      });
      inputs.forEach(([name, x], j) => {
        const dx = dxs[j]!;
        if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`variableGradients: the gradient of ${node.kernelName}'s input ${name} is ${dx.dtype} [${dx.shape}], expected float32 [${x.shape}]`);
        }
        const previous = grads.get(x.id);
        if (!previous) return hold(x.id, dx);
        const sum = tf.add(previous, dx); // x feeds several ops: sum their gradients
        release(x.id);
        hold(x.id, sum);
      });
      // Nothing reads this op's output gradients, its saved tensors or the input gradients that went into sums again.
      node.outputs.forEach((o) => release(o.id));
      node.saved?.forEach((t) => holders.has(t) || t.dispose());
      dxs.forEach((dx) => holders.has(dx) || dx.dispose());
    }
    const named: tf.NamedTensorMap = {};
    for (const x of xs) if (grads.has(x.id)) named[x.name] = grads.get(x.id)!;
    if (Object.keys(named).length === 0) throw new Error('variableGradients: the value does not depend on any of the variables');
    return named;
  });
}
