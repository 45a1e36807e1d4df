// npm run notebooks: regenerate notebooks/NN-*.ipynb from notebooks/src/NN-*.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/io/atomic.js';
import { notebookPath, notebookSources, notebookText, SOURCE_DIR, sourceToNotebook } from './ipynb.js';

for (const source of notebookSources()) {
  const file = join(SOURCE_DIR, source);
  const out = notebookPath(source);
  writeFileAtomic(out, notebookText(sourceToNotebook(readFileSync(file, 'utf8'), file)));
  console.log(`wrote ${out}`);
}
