// Draw a recorded run's loss curves (pretraining, SFT, DPO: training and validation loss) into
// <run>/loss-curves.svg, the image the README shows:
//   npx tsx results/loss-curves.ts results/92m
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { lossCurvesSpec, readMetrics, type Stage } from '../lib/report/recorded-run.js';
import { vegaLiteToSvg } from '../lib/viz/svg.js';

const run = process.argv[2];
if (!run) throw new Error('usage: npx tsx results/loss-curves.ts <run dir>  (a folder with metrics/{pretrain,sft,dpo}.jsonl.gz)');
const read = (stage: Stage) => readMetrics(join(run, 'metrics', `${stage}.jsonl.gz`));
const metrics = { pretrain: read('pretrain'), sft: read('sft'), dpo: read('dpo') };
const out = join(run, 'loss-curves.svg');
writeFileSync(`${out}.tmp`, await vegaLiteToSvg(lossCurvesSpec(metrics)));
renameSync(`${out}.tmp`, out);
console.log(`wrote ${out}`);
