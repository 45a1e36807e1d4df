// AdamW (Loshchilov & Hutter): Adam's per-parameter step size from running averages of the gradient
// (m) and its square (v), with weight decay applied to the weights directly ("decoupled") instead of
// being added to the gradient, where Adam's scaling would weaken it. tfjs has Adam but no AdamW.
import * as tf from '@tensorflow/tfjs';
import type { StoredTensor } from '../io/safetensors.js';
import { FUSED, fusedKernel } from '../model/fused.js';

/** Hyper-parameters of AdamW (defaults: the usual LLM pretraining values). */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Which parameters decay: by default the weight matrices, not norms, and not the embedding. */
  decays: (name: string) => boolean;
}

/** Matrices decay; norm gains (1-D) and the token embedding do not (a row only moves when its token appears). */
export function defaultDecays(name: string): boolean {
  return !name.includes('norm') && name !== 'model.embed_tokens.weight';
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decays: defaultDecays };

/** An update's learning rate and its bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ. */
export interface StepSize {
  lr: number;
  correction1: number;
  correction2: number;
}

/** [lr, correction1, correction2]: the step size as the fused kernel reads it from the device. */
export const stepSizeValues = (s: StepSize): Float32Array => Float32Array.of(s.lr, s.correction1, s.correction2);

/** AdamW over a model's named parameters; its state saves and loads for exact resume. */
export class AdamW {
  readonly options: AdamWOptions;
  /** Updates done so far (t in the bias corrections). */
  t = 0;
  private readonly params: Map<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(params: Map<string, tf.Variable>, options: Partial<AdamWOptions> = {}) {
    this.options = { ...ADAMW_DEFAULTS, ...options };
    this.params = params;
    for (const [name, p] of params) {
      // tidy frees the zeros the variables were made from (a variable takes its own reference to the data).
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /**
   * One update with learning rate `lr`. Each gradient is multiplied by `gradScale` first (clipping and
   * 1/accumulation steps folded into one factor, so the gradients are read once). As a tensor, the factor
   * can be computed on the device from the gradients themselves without the host reading it: nothing in
   * a step then waits for the GPU before its end.
   */
  update(grads: Map<string, tf.Tensor>, lr: number, gradScale: number | tf.Scalar = 1): void {
    this.apply(grads, this.advance(lr), gradScale);
  }

  /** Count one more update: its learning rate and bias corrections. */
  advance(lr: number): StepSize {
    this.t++;
    return { lr, correction1: 1 - this.options.beta1 ** this.t, correction2: 1 - this.options.beta2 ** this.t };
  }

  /**
   * The update that advance() counted. The fused kernel reads the step size from the device, from
   * `onDevice` (stepSizeValues(size)) when given — a recorded step's tensor, refilled before each replay
   * (lib/train/recorded-step.ts) — else from a tensor made of `size` now.
   */
  apply(grads: Map<string, tf.Tensor>, size: StepSize, gradScale: number | tf.Scalar = 1, onDevice?: tf.Tensor1D): void {
    const { beta1, beta2, eps, weightDecay, decays } = this.options;
    const { lr, correction1, correction2 } = size;
    const named = [...this.params].map(([name, p]) => {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for ${name}`);
      return { p, g, m: this.m.get(name)!, v: this.v.get(name)!, decay: decays(name) ? weightDecay : 0 };
    });
    const fused = fusedKernel(FUSED.adamw);
    if (fused) {
      // One kernel (a launch per 64 parameters) updates every p, m and v in place (same formulas as below).
      const scale = typeof gradScale === 'number' ? tf.scalar(gradScale) : gradScale;
      const stepSize = onDevice ?? tf.tensor1d(stepSizeValues(size));
      const inputs: Record<string, tf.Tensor> = { scale, stepSize };
      named.forEach(({ p, g, m, v }, j) => Object.assign(inputs, { [`param${j}`]: p, [`grad${j}`]: g, [`m${j}`]: m, [`v${j}`]: v }));
      fused({ inputs, backend: tf.backend(), attrs: { beta1, beta2, eps, decay: named.map((n) => n.decay) } });
      if (scale !== gradScale) scale.dispose();
      if (stepSize !== onDevice) stepSize.dispose();
      return;
    }
    for (const { p, g: g0, m, v, decay } of named) {
      tf.tidy(() => { // (one parameter's temporaries at a time)
        const g = gradScale === 1 ? g0 : tf.mul(g0, gradScale);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const step = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), eps));
        p.assign(tf.sub(decay === 0 ? p : tf.mul(p, 1 - lr * decay), tf.mul(step, lr)));
      });
    }
  }

  /** The tensors an update writes: parameters and moments (a recorded step checks they are still where it wrote them). */
  tensors(): tf.Variable[] {
    return [...this.params.values(), ...this.m.values(), ...this.v.values()];
  }

  /** The moments as tensors to store ("m.<name>", "v.<name>"); t goes with the checkpoint's JSON. */
  stateTensors(): Map<string, StoredTensor> {
    const out = new Map<string, StoredTensor>();
    for (const [name, m] of this.m) out.set(`m.${name}`, { shape: m.shape, values: m.dataSync() as Float32Array });
    for (const [name, v] of this.v) out.set(`v.${name}`, { shape: v.shape, values: v.dataSync() as Float32Array });
    return out;
  }

  /** Restore moments saved by stateTensors() and the update count; `source` names the file in errors. */
  loadState(tensors: Map<string, StoredTensor>, t: number, source: string): void {
    for (const [prefix, moments] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, variable] of moments) {
        const stored = tensors.get(`${prefix}.${name}`);
        if (!stored) throw new Error(`${source}: ${prefix}.${name}: missing, expected the optimizer moment of ${name}`);
        if (stored.shape.join() !== variable.shape.join()) throw new Error(`${source}: ${prefix}.${name}: shape [${stored.shape}], expected [${variable.shape}]`);
        variable.assign(tf.tensor(stored.values, stored.shape));
      }
    }
    this.t = t;
  }

  /** Free the moments. */
  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}
