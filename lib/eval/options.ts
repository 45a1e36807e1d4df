// The defaults of `tinyllm eval`, in one place for the command line, the notebook and the tests —
// apart from the evaluators so that `tinyllm eval --help` shows them without loading TensorFlow.js.

export const TASKS = ['ppl', 'mcq', 'gen'] as const;
export type EvalTask = (typeof TASKS)[number];

export const EVAL_DEFAULTS = {
  /** Rows (prompts, options or windows) per forward pass. */
  batch: 16,
  /** Multiple choice: worked examples before each question, and how an answer is read. */
  shots: 0,
  score: 'letter' as 'letter' | 'option',
  /** Generation: most tokens per answer. */
  maxTokens: 128,
};
