// One encoding worker of EncodePool: loads the tokenizer once, then answers {id, texts} with {id, ids}.
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from '../tokenizer/files.js';

const tokenizer = loadTokenizer((workerData as { tokenizerPath: string }).tokenizerPath);
parentPort!.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
  try {
    parentPort!.postMessage({ id, ids: texts.map((t) => tokenizer.encode(t)) });
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
