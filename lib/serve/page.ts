// The chat page `tinyllm serve` shows at /: one HTML file with its script inline, no build step. It
// keeps the conversation in the page, streams each reply from /v1/chat/completions (reading the
// server-sent events with fetch), renders it as markdown with markdown-it (served from node_modules,
// so the page works offline), and stops a reply mid-way by aborting the request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the page shows about the model. */
export interface PageInfo {
  modelName: string;
  parameters: number;
  context: number;
  /** Whether the server wants an API key (the page then asks for one). */
  needsKey: boolean;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Scripts the page loads, from the project's node_modules (the working directory is the project root). */
const ASSETS = { 'markdown-it': 'node_modules/markdown-it/dist/browser/markdown-it.umd.min.js' };

export function pageAsset(name: keyof typeof ASSETS): string {
  return readFileSync(join(process.cwd(), ASSETS[name]), 'utf8');
}

export function chatPage(info: PageInfo): string {
  const size = info.parameters >= 1e6 ? `${(info.parameters / 1e6).toFixed(1)}M` : info.parameters.toLocaleString('en-US');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.modelName)} · tiny-llm-ts</title>
<style>
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; display: flex; height: 100vh; color: #1d1d1f; }
  aside { width: 260px; padding: 16px; background: #f4f4f6; border-right: 1px solid #ddd; overflow: auto; }
  aside label { display: block; margin: 12px 0 4px; font-size: 13px; color: #555; }
  aside input, aside textarea { width: 100%; box-sizing: border-box; font: inherit; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  #messages { flex: 1; overflow: auto; padding: 16px 24px; }
  .message { max-width: 760px; margin: 0 0 14px; padding: 8px 12px; border-radius: 8px; }
  .user { background: #e8f0fe; margin-left: auto; white-space: pre-wrap; }
  .assistant { background: #fafafa; border: 1px solid #eee; }
  .assistant pre { background: #272822; color: #f8f8f2; padding: 8px; overflow: auto; border-radius: 4px; }
  .assistant table { border-collapse: collapse; } .assistant td, .assistant th { border: 1px solid #ccc; padding: 2px 6px; }
  .meta { font-size: 12px; color: #888; }
  form { display: flex; gap: 8px; padding: 12px 24px; border-top: 1px solid #ddd; }
  form textarea { flex: 1; font: inherit; resize: none; height: 3em; }
  button { font: inherit; padding: 0 16px; }
  .error { color: #b00020; }
</style>
</head>
<body>
<aside>
  <h3 id="model">${escapeHtml(info.modelName)}</h3>
  <div class="meta">${size} parameters · context ${info.context} tokens</div>
  ${info.needsKey ? '<label for="key">API key</label><input id="key" type="password" autocomplete="off">' : ''}
  <label for="system">System prompt</label><textarea id="system" rows="4"></textarea>
  <label for="temperature">Temperature</label><input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7">
  <label for="top_p">Top-p</label><input id="top_p" type="number" min="0.01" max="1" step="0.05" value="0.9">
  <label for="max_tokens">Max tokens</label><input id="max_tokens" type="number" min="1" max="${info.context}" value="256">
  <p><button id="clear" type="button">New conversation</button></p>
</aside>
<main>
  <div id="messages"></div>
  <form id="form">
    <textarea id="input" placeholder="Message (Enter sends, Shift+Enter for a new line)"></textarea>
    <button id="send" type="submit">Send</button>
    <button id="stop" type="button" disabled>Stop</button>
  </form>
</main>
<script src="/assets/markdown-it.min.js"></script>
<script>
const md = window.markdownit({ html: false, linkify: true });
const $ = (id) => document.getElementById(id);
const history = [];
let controller = null;

function bubble(role, text) {
  const div = document.createElement('div');
  div.className = 'message ' + role;
  if (role === 'user') div.textContent = text; else div.innerHTML = md.render(text);
  $('messages').appendChild(div);
  $('messages').scrollTop = $('messages').scrollHeight;
  return div;
}

async function send(text) {
  history.push({ role: 'user', content: text });
  bubble('user', text);
  const out = bubble('assistant', '');
  const system = $('system').value.trim();
  const body = {
    model: ${JSON.stringify(info.modelName)}, stream: true, stream_options: { include_usage: true },
    messages: [...(system ? [{ role: 'system', content: system }] : []), ...history],
    temperature: Number($('temperature').value), top_p: Number($('top_p').value), max_tokens: Number($('max_tokens').value),
  };
  const headers = { 'content-type': 'application/json' };
  if ($('key')) headers.authorization = 'Bearer ' + $('key').value;
  controller = new AbortController();
  $('send').disabled = true; $('stop').disabled = false;
  let reply = '', note = '';
  try {
    const res = await fetch('/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal });
    if (!res.ok) throw new Error((await res.json()).error.message);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) { // one server-sent event per blank line
        const event = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices[0];
        if (choice && choice.delta.content) { reply += choice.delta.content; out.innerHTML = md.render(reply); }
        if (choice && choice.finish_reason === 'length') note = 'stopped at the token limit';
        if (chunk.usage) note += (note ? ' · ' : '') + chunk.usage.completion_tokens + ' tokens';
        $('messages').scrollTop = $('messages').scrollHeight;
      }
    }
  } catch (err) {
    if (err.name === 'AbortError') note = 'stopped';
    else { const e = document.createElement('div'); e.className = 'error'; e.textContent = err.message; out.appendChild(e); }
  } finally {
    controller = null;
    $('send').disabled = false; $('stop').disabled = true;
  }
  history.push({ role: 'assistant', content: reply });
  if (note) { const m = document.createElement('div'); m.className = 'meta'; m.textContent = note; out.appendChild(m); }
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text || controller) return;
  $('input').value = '';
  send(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('form').requestSubmit(); }
});
$('stop').addEventListener('click', () => controller && controller.abort());
$('clear').addEventListener('click', () => { history.length = 0; $('messages').innerHTML = ''; });
</script>
</body>
</html>
`;
}
