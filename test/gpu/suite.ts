// The whole GPU suite as one module, so that it bundles into one file (one copy of tfjs) for a GPU
// machine: ../shared/device/prepare.sh test/gpu/suite.ts, then there node --test .device/suite.mjs.
// A test in test/lib/cuda checks that every test/gpu/*.test.ts is imported here.
import './batch.test.js';
import './driver.test.js';
import './elementwise.test.js';
import './eval.test.js';
import './fused.test.js';
import './graph.test.js';
import './indexing.test.js';
import './layout.test.js';
import './lora.test.js';
import './matmul.test.js';
import './nccl.test.js';
import './quantized.test.js';
import './reduce.test.js';
import './train.test.js';
