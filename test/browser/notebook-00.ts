// npm run test:browser: open notebook 00 in a real JupyterLab 4 in headless Chromium (Debian's
// `chromium` package, driven by playwright-core), run all cells, and check that the plotly and the
// Vega-Lite charts render. Screenshots go to test/artifacts/. Needs `apt install chromium`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const ARTIFACTS = 'test/artifacts';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function fail(message: string): never {
  console.error(`test:browser: ${message}`);
  process.exit(1);
}

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM}: install Debian's package (apt install chromium) or set CHROMIUM=/path`);
if (spawnSync('bash', ['notebooks/tools/venv.sh'], { stdio: 'inherit' }).status !== 0) fail('notebooks/tools/venv.sh failed');

// Run a copy, so the committed notebook never gains outputs; isolated settings turn off JupyterLab's
// virtual scrolling, so that every output is in the page, and its news pop-up, so that it hides nothing.
mkdirSync(ARTIFACTS, { recursive: true });
copyFileSync('notebooks/00-setup.ipynb', join(ARTIFACTS, '00-setup.ipynb'));
const settings = mkdtempSync(join(tmpdir(), 'lab-settings-'));
const labSettings: [string, string][] = [
  ['notebook-extension/tracker', '{"windowingMode": "none"}'],
  ['apputils-extension/notification', '{"fetchNews": "false"}'],
];
for (const [plugin, value] of labSettings) {
  mkdirSync(join(settings, '@jupyterlab', plugin.split('/')[0]!), { recursive: true });
  writeFileSync(join(settings, '@jupyterlab', `${plugin}.jupyterlab-settings`), value);
}

const port = await freePort();
const token = randomBytes(16).toString('hex');
const base = `http://127.0.0.1:${port}`;
const lab = spawn('.venv/bin/jupyter', [
  'lab', '--no-browser', `--port=${port}`, '--ServerApp.ip=127.0.0.1', `--IdentityProvider.token=${token}`,
  `--ServerApp.root_dir=${resolve('.')}`, `--LabApp.user_settings_dir=${settings}`,
  `--LabApp.workspaces_dir=${settings}`, '--LabApp.expose_app_in_browser=True',
  ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
], { stdio: ['ignore', 'ignore', 'pipe'] });
let labLog = '';
lab.stderr.on('data', (d) => (labLog += d));
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  // The server is up when its API answers; it must offer the TypeScript kernel.
  let specs: { kernelspecs: Record<string, { spec: { display_name: string } }> } | undefined;
  for (let i = 0; i < 120 && !specs; i++) {
    specs = await fetch(`${base}/api/kernelspecs?token=${token}`).then((r) => r.json() as Promise<typeof specs>, () => undefined);
    if (!specs) await new Promise((r) => setTimeout(r, 500));
  }
  if (!specs) fail(`JupyterLab did not answer on ${base}:\n${labLog.slice(-2000)}`);
  const tslab = specs.kernelspecs.tslab?.spec.display_name;
  if (tslab !== 'TypeScript') fail(`kernel tslab missing from ${Object.keys(specs.kernelspecs).join(', ')}`);
  console.log(`JupyterLab at ${base}: kernels ${Object.keys(specs.kernelspecs).join(', ')}`);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${base}/lab/tree/${ARTIFACTS}/00-setup.ipynb?token=${token}`);
  await page.waitForFunction(() => {
    const app = (window as unknown as { jupyterapp?: { shell: { currentWidget: { sessionContext?: { session?: { kernel?: { status: string } } } } | null } } }).jupyterapp;
    return app?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle';
  }, undefined, { timeout: 120_000 });
  const started = Date.now();
  await page.evaluate(() =>
    (window as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }).jupyterapp.commands.execute('notebook:run-all-cells'),
  );
  // The last cell prints one line per exercise function; once it is there, every cell has run.
  await page.getByText(/logSoftmax\s/).first().waitFor({ timeout: 240_000 });
  const plotly = page.locator('.js-plotly-plot .main-svg').first();
  const vega = page.locator('.vega-embed canvas, .vega-embed svg.marks').first();
  await plotly.waitFor({ timeout: 60_000 });
  await vega.waitFor({ timeout: 60_000 });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  const figures = await page.evaluate(() => ({
    plotlyTraces: document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length,
    plotlyLegend: [...document.querySelectorAll('.js-plotly-plot .legendtext')].map((e) => e.textContent),
    // JupyterLab's Vega renderer draws on a canvas (an SVG renderer would give svg.marks).
    vegaCanvas: [...document.querySelectorAll('.vega-embed canvas')].map((c) => `${(c as HTMLCanvasElement).width}x${(c as HTMLCanvasElement).height}`),
    vegaSvgMarks: document.querySelectorAll('.vega-embed svg.marks .mark-rect path').length,
    markdownRows: [...document.querySelectorAll('.jp-OutputArea-output table tbody tr')].map((r) => r.textContent),
    errors: [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map((e) => e.textContent),
  }));
  if (figures.errors.length > 0) fail(`cells wrote errors:\n${figures.errors.join('\n')}`);
  if (figures.plotlyTraces !== 3) fail(`expected 3 plotly traces (cpu, wasm, wasm + BLAS), saw ${figures.plotlyTraces}`);
  if (figures.vegaCanvas.length === 0 && figures.vegaSvgMarks === 0) fail('the Vega-Lite chart drew nothing');
  if (figures.markdownRows.length !== 3) fail(`expected the markdown table's 3 rows, saw ${figures.markdownRows.length}`);

  await plotly.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'notebook-00-plotly.png') });
  await vega.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'notebook-00-vegalite.png') });
  console.log(`ran all cells in ${seconds} s; rendered:`, JSON.stringify({ ...figures, errors: undefined }));
  console.log(`screenshots: ${ARTIFACTS}/notebook-00-plotly.png, ${ARTIFACTS}/notebook-00-vegalite.png`);
} finally {
  await browser.close();
  lab.kill('SIGTERM');
}
