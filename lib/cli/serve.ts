// `tinyllm serve`: the model behind an OpenAI-compatible HTTP API and a chat page (lib/serve/). Binds
// 127.0.0.1 unless told otherwise: reachable from this machine only, until you choose to expose it.
import { intFlag, optionValue, requiredFlag, stringFlag } from './args.js';
import { SERVE_DEFAULTS } from '../serve/options.js';
import { ADAPTER_OPTION, BACKEND_OPTION, type Command } from './command.js';

export const serveCommand: Command = {
  summary: 'serve a model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions) with a chat page at /',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory with its tokenizer (float or quantized)' },
    ADAPTER_OPTION,
    { name: 'host', value: '<addr>', default: SERVE_DEFAULTS.host, help: 'address to listen on; 0.0.0.0 exposes the server to the network' },
    { name: 'port', value: '<n>', default: SERVE_DEFAULTS.port, help: 'TCP port (0: any free one, printed)' },
    { name: 'api-key', value: '<key>', help: 'require Authorization: Bearer <key> on /v1/* (also read from TINYLLM_API_KEY)' },
    { name: 'name', value: '<id>', default: "the model directory's name", help: 'the model id clients see' },
    { name: 'max-running', value: '<n>', default: SERVE_DEFAULTS.maxRunning, help: 'generations decoded together as one batch (one forward pass per token for all); more wait' },
    { name: 'max-waiting', value: '<n>', default: SERVE_DEFAULTS.maxWaiting, help: 'generations that may wait; beyond them requests get 429' },
    BACKEND_OPTION,
  ],
  notes: () => [
    'Endpoints: POST /v1/chat/completions and /v1/completions (stream: true for server-sent events),',
    'GET /v1/models, GET /health, and the chat page at GET /. Works with the official openai clients:',
    "  new OpenAI({ baseURL: 'http://127.0.0.1:8000/v1', apiKey: '<key or anything>' })",
  ],
  async run(args) {
    const dir = requiredFlag(args, 'model');
    const host = stringFlag(args, 'host', SERVE_DEFAULTS.host)!;
    const port = intFlag(args, 'port', SERVE_DEFAULTS.port, 0)!;
    if (port > 65535) throw new Error(`--port: ${port}, expected a port number in [0, 65535]`);
    const maxRunning = intFlag(args, 'max-running', SERVE_DEFAULTS.maxRunning, 1)!;
    const maxWaiting = intFlag(args, 'max-waiting', SERVE_DEFAULTS.maxWaiting, 0)!;
    const apiKey = stringFlag(args, 'api-key') ?? process.env.TINYLLM_API_KEY;
    const { basename, resolve } = await import('node:path');
    const { initBackend, parseBackendName, describeBackend } = await import('../backend/init.js');
    const { readEosIds } = await import('../io/model-dir.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    const { createApiServer } = await import('../serve/server.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const { model, tokenizer } = loadModelWithAdapter(dir, stringFlag(args, 'adapter'));
    if (!tokenizer) throw new Error(`${dir}: no tokenizer.json, expected a model directory with its tokenizer`);
    const modelName = stringFlag(args, 'name') ?? basename(resolve(dir));
    const server = createApiServer(model, tokenizer, {
      modelName, apiKey, maxBodyBytes: SERVE_DEFAULTS.maxBodyBytes, maxRunning, maxWaiting, stopIds: readEosIds(dir) ?? undefined,
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', (err: NodeJS.ErrnoException) => fail(new Error(err.code === 'EADDRINUSE' ? `--port: ${port} is in use on ${host}; choose another --port (0: any free one)` : `--host ${host} --port ${port}: ${err.message}`)));
      server.listen(port, host, ok);
    });
    const address = server.address() as { port: number };
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    console.log(`serving ${modelName} (${model.parameterCount.toLocaleString('en-US')} parameters${model.quantization ? `, ${model.quantization}` : ''}) on ${describeBackend()}`);
    console.log(`chat page ${url}/ · API ${url}/v1${apiKey ? ' (API key required)' : ''} · Ctrl-C stops`);
    await new Promise<void>((ok) => process.once('SIGINT', () => server.close(() => ok())));
    model.dispose();
  },
};
