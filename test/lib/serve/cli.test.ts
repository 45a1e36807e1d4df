// `tinyllm serve` from the command line: --help shows the defaults of lib/serve/options.ts, bad flags and
// a port in use are one line, and a started server answers on the address it prints.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../../../lib/serve/options.js';

const tinyllm = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });

describe('tinyllm serve', () => {
  it('--help shows the server defaults', () => {
    const run = tinyllm('serve', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`--host <addr>`);
    expect(run.stdout).toContain(`(default ${SERVE_DEFAULTS.host})`);
    expect(run.stdout).toContain(`(default ${SERVE_DEFAULTS.port})`);
    expect(run.stdout).toMatch(new RegExp(`--max-running <n> .*\\(default ${SERVE_DEFAULTS.maxRunning}\\)`));
  });

  it('a bad port and a port in use fail with one line', async () => {
    expect(tinyllm('serve', '--model', 'datasets/models/chat', '--port', '70000').stderr.trim()).toBe('tinyllm: --port: 70000, expected a port number in [0, 65535]');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((ok) => blocker.once('listening', ok));
    const port = (blocker.address() as { port: number }).port;
    const run = tinyllm('serve', '--model', 'datasets/models/chat', '--port', String(port), '--backend', 'wasm');
    blocker.close();
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`tinyllm: --port: ${port} is in use on 127.0.0.1; choose another --port (0: any free one)`);
  });

  it('starts on a free port, prints where, and answers /health and /v1/models', async () => {
    const server = spawn(process.execPath, ['lib/cli/tinyllm.js', 'serve', '--model', 'datasets/models/chat', '--port', '0', '--name', 'tiny', '--backend', 'wasm']);
    let out = '';
    server.stdout.on('data', (d) => (out += d));
    try {
      let base: string | undefined;
      for (let i = 0; i < 200 && !base; i++) {
        base = /chat page (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
        if (!base) await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toMatch(/^serving tiny \(2,712,600 parameters\) on wasm/m);
      expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: 'ok', running: 0, waiting: 0 });
      expect(((await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] }).data[0]!.id).toBe('tiny');
    } finally {
      server.kill('SIGINT');
    }
  });
});
