// npm run test:browser (second part): `tinyllm serve`'s chat page in headless Chromium (Debian's
// `chromium`, driven by playwright-core). Send a message and watch the reply stream in, rendered as
// markdown; send another with a large token budget and stop it mid-way; check the server let the
// generation go. Screenshots go to test/artifacts/. Needs `apt install chromium`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ARTIFACTS = 'test/artifacts';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function fail(message: string): never {
  console.error(`test:browser: ${message}`);
  process.exit(1);
}

if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM}: install Debian's package (apt install chromium) or set CHROMIUM=/path`);
mkdirSync(ARTIFACTS, { recursive: true });

// Port 0: the server picks a free port and prints its address.
const server = spawn(process.execPath, ['lib/cli/tinyllm.js', 'serve', '--model', 'datasets/models/chat', '--port', '0', '--backend', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
server.stdout.on('data', (d) => (log += d));
server.stderr.on('data', (d) => (log += d));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
try {
  let base: string | undefined;
  for (let i = 0; i < 120 && !base; i++) {
    base = /chat page (http:\/\/[^/\s]+)\//.exec(log)?.[1];
    if (!base) await new Promise((r) => setTimeout(r, 250));
  }
  if (!base) fail(`the server did not start:\n${log}`);
  const health = async () => (await (await fetch(`${base}/health`)).json()) as { running: number; tokens_generated: number };

  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/`);
  const title = await page.locator('#model').textContent();
  if (title !== 'chat') fail(`the page names the model '${title}', expected 'chat'`);

  // 1. A reply streams in: the bubble fills over several renders, then the Send button comes back.
  await page.fill('#temperature', '0');
  await page.fill('#input', '你是谁？');
  await page.press('#input', 'Enter');
  const reply = page.locator('.message.assistant').first();
  const lengths: number[] = [];
  for (let i = 0; i < 400 && (await page.locator('#send').isDisabled()); i++) {
    lengths.push(((await reply.textContent()) ?? '').length);
    await new Promise((r) => setTimeout(r, 5));
  }
  const text = (await reply.locator('p').first().textContent()) ?? '';
  if (!text.startsWith('我是 tiny-llm-ts')) fail(`the first reply is '${text}', expected the model's introduction`);
  const partial = new Set(lengths.filter((n) => n > 0 && n < text.length));
  if (partial.size < 2) fail(`the reply did not stream: saw ${partial.size} partial lengths before the end`);
  await page.screenshot({ path: join(ARTIFACTS, 'chat-page-reply.png') });

  // 2. Stop a long reply mid-way: the page says so, the server stops generating for it.
  await page.fill('#temperature', '1');
  await page.fill('#max_tokens', '480');
  await page.fill('#input', '请介绍一下长城。');
  await page.press('#input', 'Enter');
  const second = page.locator('.message.assistant').nth(1);
  await page.waitForFunction(() => (document.querySelectorAll('.message.assistant')[1]?.textContent ?? '').length > 5);
  const before = await health();
  await page.click('#stop');
  await second.locator('.meta').waitFor();
  const note = await second.locator('.meta').textContent();
  if (note !== 'stopped') fail(`after Stop the reply notes '${note}', expected 'stopped'`);
  let after = await health();
  for (let i = 0; i < 100 && after.running > 0; i++) after = await health();
  if (after.running !== 0) fail('the server still generates after Stop');
  if (after.tokens_generated - before.tokens_generated > 60) fail(`the server generated ${after.tokens_generated - before.tokens_generated} more tokens after Stop`);
  if (pageErrors.length > 0) fail(`the page threw: ${pageErrors.join('; ')}`);
  await page.screenshot({ path: join(ARTIFACTS, 'chat-page-stopped.png') });
  console.log(`chat page at ${base}: the reply streamed in ${partial.size} steps ('${text.slice(0, 24)}…'); Stop ended the second after ${((await second.textContent()) ?? '').length} characters`);
  console.log(`screenshots: ${ARTIFACTS}/chat-page-reply.png, ${ARTIFACTS}/chat-page-stopped.png`);
} finally {
  await browser.close();
  server.kill('SIGINT');
}
