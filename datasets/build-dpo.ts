// Builds the shipped DPO (direct preference optimisation) dataset, datasets/dpo/{train,val}.jsonl.gz:
// preference pairs in minimind's format, one per line,
//   {"chosen": [{"role": "system"|"user", …}, …, {"role": "assistant", …}], "rejected": [… the same prompt …, {"role": "assistant", …}]}
// made from the shipped SFT set (datasets/sft/), so its sources and licences are the SFT set's and nothing
// is downloaded. Each pair takes the first exchange of an SFT conversation (its system prompt, if any, its
// first question and first answer): chosen is the SFT answer; rejected is a worse one of four kinds:
//   wrong     a plausible wrong answer: the same answer with another conversation's fact in it (another
//             poem's author, another man page's purpose, another saying's source…), else another answer of
//             the same kind of question, else any other answer in the same language;
//   repeat    the answer degenerating into repetition: its first clause over and over, or stuck on a word;
//   cut       the answer cut short mid-way (never at a full stop);
//   language  an answer in the other language (an English one to a Chinese question and vice versa).
// See datasets/README.md for the counts.
//
//   npx tsx datasets/build-dpo.ts
//
// Every choice (which conversations, which kind of rejected answer, which other answer, where to cut)
// comes from seeded generators, so the same SFT files give the same pairs byte for byte.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { Rng } from '../lib/rng.js';
import { renderChat, type ChatMessage } from '../lib/tokenizer/chat.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';

const SFT = 'datasets/sft';
const OUT = 'datasets/dpo';
const TOKENIZER = 'datasets/tokenizer';
const SEED = 20240715;
/** Longest rendered ChatML conversation (chosen or rejected), in tokens of the shipped tokenizer. */
const MAX_TOKENS = 480;
/** Pairs made from the SFT training conversations; every held-out one makes a validation pair. */
const TRAIN_PAIRS = 5000;

const REJECTED = ['wrong', 'repeat', 'cut', 'language'] as const;
type Rejected = (typeof REJECTED)[number];
/** How often each kind of rejected answer is drawn, among those that can be made from an answer. */
const WEIGHTS: Record<Rejected, number> = { wrong: 0.45, repeat: 0.2, cut: 0.2, language: 0.15 };
/** How a wrong answer was found, best first. */
const HOW = ['fact swapped', 'same kind', 'any other'] as const;
type How = (typeof HOW)[number];

/** The first exchange of an SFT conversation. */
interface Exchange {
  /** The system prompt, if any, and the first question. */
  prompt: ChatMessage[];
  question: string;
  answer: string;
  english: boolean;
  topic: Topic;
  /** The answer template's match: [whole, before, fact, after] (a fact swap), [whole, name] (a name swap). */
  match: RegExpExecArray | null;
}

/**
 * A kind of question, told by its question and answer text. `swap` says how a wrong answer is made:
 * `fact` puts another exchange's fact (the answer regex's second group, between `before` and `after`) in
 * this answer; `name` takes another exchange's whole answer and puts this one's name (the first group) in
 * place of the other's; `whole` takes another exchange's answer as it is.
 */
interface Topic {
  name: string;
  question: RegExp;
  answer?: RegExp;
  swap: 'fact' | 'name' | 'whole';
  /** Other exchanges whose key equals this one's are never the wrong answer (their answer may be right too); by default the fact, name or answer. */
  key?: (e: Exchange) => string;
  /**
   * Other exchanges of the same flavour are preferred (same era and genre, as many characters, the same
   * program…), so that only the fact differs: the first level of the list that any other exchange shares.
   */
  flavour?: (e: Exchange) => string[];
  /** Checks beyond the regexes (the answer names what the question asks about). */
  check?: (e: Exchange) => boolean;
}

/** The hand-written identity questions of build-sft.ts, by subject: answers of one subject can all be right for its questions. */
const IDENTITY: Record<string, string[]> = {
  self: ['你是谁？', '你是谁', '请介绍一下你自己。', '介绍一下你自己吧。', '你好，你是谁？', '你是什么？', '你是一个什么样的模型？', '你是人工智能吗？', '你是机器人吗？', '我在和谁说话？', '你是什么模型？', '能说说你是谁吗？',
    '你叫什么名字？', '你的名字是什么？', '你有名字吗？', '你是 ChatGPT 吗？', '你是通义千问吗？', '你是文心一言吗？', '你是 GPT-4 吗？', '你是谁开发的？', '你是用什么训练的？', '你有多大？', '你好', '你好！', '嗨',
    'Who are you?', 'What are you?', 'Introduce yourself.', 'What is your name?', 'Are you ChatGPT?', 'Hello!'],
  can: ['你能做什么？', '你会做什么？', '你有什么功能？', '你能帮我做什么？', '你擅长什么？', 'What can you do?'],
  fallible: ['你会犯错吗？', '你说的都对吗？'],
  offline: ['你能上网吗？', '你知道今天的新闻吗？'],
  english: ['你会说英语吗？'],
  thanks: ['谢谢你。', '谢谢'],
  bye: ['再见'],
};
const subject = new Map(Object.entries(IDENTITY).flatMap(([s, qs]) => qs.map((q) => [q, s] as const)));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The kinds of question, first match wins. */
const TOPICS: Topic[] = [
  { name: 'identity', question: new RegExp(`^(${[...subject.keys()].map(escape).join('|')})$`), swap: 'whole', key: (e) => subject.get(e.question)! },
  // 《问刘十九》是唐代诗人白居易的作品。全诗如下：… → 《问刘十九》是唐代诗人杜甫的作品。全诗如下：…
  { name: 'poem: title → author', question: /^《[^》]+》(的作者是谁|是谁写的|是哪位[诗词]人的作品)？$|^谁写了《[^》]+》？$/, answer: /^(《[^》]+》是)(.+?)(的作品。[^]*)$/, swap: 'fact',
    key: (e) => e.match![2]!.replace(/^.*?[诗词]人/, ''), flavour: (e) => [/^.*?[诗词]人/.exec(e.match![2]!)?.[0] ?? '', /[诗词]人(?=.)/.exec(e.match![2]!)?.[0] ?? ''] },
  { name: 'poem: title → source (no author)', question: /^《[^》]+》(的作者是谁|是谁写的|是哪位[诗词]人的作品)？$|^谁写了《[^》]+》？$/, answer: /^(《[^》]+》出自)(.+?)(，作者已不可考。[^]*)$/, swap: 'fact' },
  // 下一句是“黄河入海流”，出自… → 下一句是“(another line of as many characters)”，出自…
  { name: 'line → next line', question: /下一句/, answer: /^(下一句是“)([^”]+)(”，出自[^]*)$/, swap: 'fact', flavour: (e) => [String(e.match![2]!.length)] },
  { name: 'line → poem', question: /^“.+”(出自哪首[诗词]|这句[诗词]的出处是哪里|是谁写的)？$/, answer: /^(这句出自)(.+)(。)$/, swap: 'fact' },
  // The title (and author) line kept, another poem's text (of as many lines) under it.
  { name: 'poem: recite', question: /^请背诵.+。$|^能给我背一下.+吗？$|全文是什么？$/, answer: /^(《[^》\n]+》\n(?:[^\n，。！？；：]+\n)?)([^]+)()$/, swap: 'fact',
    flavour: (e) => [String(e.match![2]!.split('\n').length)] },
  { name: 'poem: meaning', question: /《[^》]+》(是什么意思|写了什么)？$|^请解释一下.*《[^》]+》。$/, swap: 'whole' },
  // Another poet's biography under this poet's name, preferably of the same era.
  { name: 'poet → biography', question: /^(.+)是谁？$|^(.+)是哪个朝代的[诗词]人？$|^请介绍一下(.+)。$|^你知道(.+)吗？$/, answer: /^([^，。\s]{1,8})是([^。]*[诗词]人)。/, swap: 'name',
    check: (e) => e.question.includes(e.match![1]!), flavour: (e) => [e.match![2]!, e.match![2]!.slice(-2)] },
  { name: 'saying → source', question: /^“.+”(出自哪里|这句话的出处是什么|出自哪部作品|是谁说的)？$/, answer: /^(这句话出自)([^。]+)(。[^]*)$/, swap: 'fact',
    flavour: (e) => [e.match![2]!.includes('，是') ? 'speaker' : ''] },
  // Another function's description and syntax under this function's name.
  { name: 'Calc function', question: /Calc|电子表格函数/, answer: /^([A-Z][A-Z0-9.]*[A-Z0-9])(?: 函数|：)/, swap: 'name',
    check: (e) => e.question.includes(e.match![1]!), flavour: (e) => [e.answer.includes('\n语法：') ? 'syntax' : ''] },
  { name: 'LibreOffice help page', question: /^(?:在 |请简单介绍一下 )?LibreOffice(?: \w+)?(?: 中的| 里，| 的| 帮助里的)“/, swap: 'whole',
    flavour: (e) => [/LibreOffice(?: \w+)?/.exec(e.question)![0]] },
  { name: 'man: task → command', question: /^(用什么命令可以|在 Linux 上怎样)/, answer: /^(可以用 )(\S+)( 命令，它用于[^]*)$/, swap: 'fact' },
  ...([['is', /^(\S+ 是 ?)([^\n]+)(。)$/], ['for', /^(\S+ 用于 ?)([^\n]+)(。)$/], ['page', /^(\S+\(\w+\) 讲的是：)([^\n]+)(。)$/], ['colon', /^([^\s：]+：)([^\n]+)(。)$/]] as const).map(
    ([form, answer]): Topic => ({ name: `man: command → purpose (${form})`, question: /命令|系统调用|函数有什么用|^C 库函数|^手册页 |^man |^Linux 里的/, answer, swap: 'fact' })),
  { name: 'Debian FAQ', question: /^请介绍一下：|^关于“.+”，能说说吗？$|^Debian FAQ 里的“/, swap: 'whole' },
  { name: 'SOTU: year → president', question: /State of the Union/, answer: /^()(.+? \([^)]+\))( delivered the \d{4} State of the Union address\.)$/, swap: 'fact' },
  { name: 'SOTU / Moby-Dick: opening', question: /begin\?$/, answer: /^(It begins: “)([^]+)(”)$/, swap: 'fact', flavour: (e) => [/address/.test(e.question) ? 'sotu' : 'moby'] },
  { name: 'Moby-Dick: chapter → title', question: /^What is (the title of )?chapter/, answer: /^(Chapter \d+ of Moby-Dick, by Herman Melville, is titled ")(.+)("\.)$/, swap: 'fact' },
  { name: 'Moby-Dick: title → chapter', question: /^Which chapter/, answer: /^(".+" is chapter )(\d+)( of Herman Melville's Moby-Dick\.)$/, swap: 'fact' },
  { name: 'English, other', question: /^[\x00-\x7f]*$/, swap: 'whole' },
  // Debian FAQ sections whose heading is a question ("谁编写了所有这些软件？"): told by the answer.
  { name: 'Debian FAQ', question: /[？?]$/, answer: /Debian|软件|dpkg|APT|apt|Linux|GNU|发行|stable|testing|unstable|\/etc\/|\/dev\/|内核|版本|许可证/, swap: 'whole' },
  { name: 'Chinese, other', question: /[^]/, swap: 'whole' },
];
const TOPIC_NAMES = [...new Set(TOPICS.map((t) => t.name))];

const tokenizer = loadTokenizer(TOKENIZER);
const train = exchanges(read('train'));
const trainQuestions = new Set(train.map((e) => e.question));
const val = exchanges(read('val')).filter((e) => !trainQuestions.has(e.question)); // (none are: build-sft.ts holds out whole items)
const trainPairs = pairs(train, new Rng(SEED), TRAIN_PAIRS);
const valPairs = pairs(val, new Rng(SEED + 1), Infinity);
mkdirSync(OUT, { recursive: true });
for (const [name, split] of [['train', trainPairs], ['val', valPairs]] as const) {
  const jsonl = split.map((p) => p.line).join('\n') + '\n';
  const gz = gzipSync(jsonl, { level: 9 });
  writeFileAtomic(join(OUT, `${name}.jsonl.gz`), gz);
  console.log(`${name}: ${split.length} pairs, ${(Buffer.byteLength(jsonl) / 1e6).toFixed(2)} MB, ${(gz.length / 1e6).toFixed(2)} MB gzipped`);
}
summary(trainPairs, valPairs);

/** The conversations of an SFT file. */
function read(split: 'train' | 'val'): ChatMessage[][] {
  const text = gunzipSync(readFileSync(join(SFT, `${split}.jsonl.gz`))).toString('utf8');
  return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { conversations: ChatMessage[] }).conversations);
}

/** The first exchange of each conversation, classified; one per prompt. */
function exchanges(conversations: ChatMessage[][]): Exchange[] {
  const out: Exchange[] = [];
  const seen = new Set<string>();
  for (const c of conversations) {
    const user = c.findIndex((m) => m.role === 'user');
    const answer = c[user + 1];
    if (user < 0 || answer?.role !== 'assistant') throw new Error(`${JSON.stringify(c).slice(0, 80)}: expected a user message followed by an answer`);
    const prompt = c.slice(0, user + 1);
    const key = JSON.stringify(prompt);
    if (seen.has(key)) continue;
    seen.add(key);
    const question = c[user]!.content;
    const e: Exchange = { prompt, question, answer: answer.content, english: !/[\u3400-\u9fff]/.test(question), topic: TOPICS[0]!, match: null };
    for (const topic of TOPICS) {
      if (!topic.question.test(question)) continue;
      const match = topic.answer ? topic.answer.exec(e.answer) : null;
      if (topic.answer && !match) continue;
      Object.assign(e, { topic, match });
      if (!topic.check || topic.check(e)) break;
    }
    out.push(e);
  }
  return out;
}

/** What another exchange must differ in to give a wrong answer. */
function keyOf(e: Exchange): string {
  return e.topic.key ? e.topic.key(e) : e.topic.swap === 'fact' ? e.match![2]! : e.topic.swap === 'name' ? e.match![1]! : e.answer;
}

/** A pair as written, with what the summary needs. */
interface Pair {
  topic: string;
  rejected: Rejected;
  how?: How;
  tokens: [chosen: number, rejected: number];
  line: string;
}

/**
 * Pairs from the exchanges in a seeded order, up to `limit`: a kind of rejected answer drawn for each
 * (among those its answer allows), made, and kept when it differs from the answer and both conversations
 * fit in MAX_TOKENS. Wrong and wrong-language answers come from the same exchanges (the same split).
 */
function pairs(all: Exchange[], rng: Rng, limit: number): Pair[] {
  const byTopic = new Map<string, Exchange[]>();
  for (const e of all) byTopic.set(e.topic.name, [...(byTopic.get(e.topic.name) ?? []), e]);
  const zh = all.filter((e) => !e.english);
  const en = all.filter((e) => e.english);
  const out: Pair[] = [];
  const skipped: Record<string, number> = {};
  for (const e of rng.shuffle([...all])) {
    if (out.length >= limit) break;
    const possible = REJECTED.filter((k) => k !== 'cut' || cuttable(e));
    let r = rng.next() * possible.reduce((s, k) => s + WEIGHTS[k], 0);
    const kind = possible.find((k) => (r -= WEIGHTS[k]) < 0) ?? possible[possible.length - 1]!;
    let made: { text: string; how?: How } | null = null;
    if (kind === 'wrong') made = wrong(e, byTopic.get(e.topic.name)!, e.english ? en : zh, rng);
    else if (kind === 'repeat') made = { text: repetition(e, rng) };
    else if (kind === 'cut') made = { text: cut(e, rng) };
    else made = otherLanguage(e, e.english ? zh : en, rng);
    if (!made || made.text === e.answer || made.text.trim() === '') {
      skipped[`${kind}: none`] = (skipped[`${kind}: none`] ?? 0) + 1;
      continue;
    }
    const chosen = [...e.prompt, { role: 'assistant' as const, content: e.answer }];
    const rejected = [...e.prompt, { role: 'assistant' as const, content: made.text }];
    const tokens: [number, number] = [tokenizer.encode(renderChat(chosen)).length, tokenizer.encode(renderChat(rejected)).length];
    if (Math.max(...tokens) > MAX_TOKENS) {
      skipped[`${kind}: > ${MAX_TOKENS} tokens`] = (skipped[`${kind}: > ${MAX_TOKENS} tokens`] ?? 0) + 1;
      continue;
    }
    out.push({ topic: e.topic.name, rejected: kind, how: made.how, tokens, line: JSON.stringify({ chosen, rejected }) });
  }
  if (Object.keys(skipped).length > 0) console.log(`skipped: ${Object.entries(skipped).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out;
}

/**
 * A plausible wrong answer: this answer with another exchange's fact (or another answer under this
 * name), preferably one of the same flavour; else another answer to the same kind of question; else
 * any other answer in the same language.
 */
function wrong(e: Exchange, sameTopic: Exchange[], sameLanguage: Exchange[], rng: Rng): { text: string; how: How } | null {
  const key = keyOf(e);
  const others = sameTopic.filter((o) => o !== e && o.english === e.english && keyOf(o) !== key); // (identity has both languages)
  if (others.length > 0) {
    const flavour = e.topic.flavour?.(e) ?? [];
    const alike = flavour.map((f, i) => others.filter((o) => e.topic.flavour!(o)[i] === f)).find((os) => os.length > 0);
    const o = rng.pick(alike ?? others);
    if (e.topic.swap === 'fact') return { text: e.match![1]! + o.match![2]! + e.match![3]!, how: 'fact swapped' };
    if (e.topic.swap === 'name') {
      const name = o.match![1]!;
      // (A Calc name is a whole word: AVERAGE is not replaced inside AVERAGEIF.)
      const re = /^[A-Z]/.test(name) ? new RegExp(`(?<![A-Z0-9.])${escape(name)}(?![A-Z0-9])`, 'g') : new RegExp(escape(name), 'g');
      return { text: o.answer.replace(re, e.match![1]!), how: 'fact swapped' };
    }
    return { text: o.answer, how: 'same kind' };
  }
  const any = sameLanguage.filter((o) => o.topic.name !== e.topic.name && o.answer !== e.answer);
  return any.length > 0 ? { text: rng.pick(any).answer, how: 'any other' } : null;
}

/** The answer degenerating into repetition: its first clause 6–10 times, or stuck on its last few characters (words) at some point. */
function repetition(e: Exchange, rng: Rng): string {
  const sep = e.english ? ' ' : '';
  const clause = /^[^，。！？；：,.!?;:\n]+[，。！？；：,.!?;:]?/.exec(e.answer)?.[0].trim() ?? '';
  if (rng.next() < 0.5 && [...clause].length >= 2 && [...clause].length <= 40) return Array.from({ length: 6 + rng.int(5) }, () => clause).join(sep);
  // Stuck: the answer up to a point early in its first line, then its last 1–4 characters (1–3 words)
  // again and again until the repeats are at least 24 characters (60 in English) long.
  const units = e.english ? e.answer.split('\n')[0]!.split(' ') : [...e.answer.split('\n')[0]!];
  let at = Math.max(1, Math.min(units.length, 2 + rng.int(Math.min(units.length, e.english ? 12 : 40))));
  while (at > 1 && !/[\p{L}\p{N}]/u.test(units[at - 1]!)) at--; // stuck on a word, not on a comma
  const n = Math.min(at, 1 + rng.int(e.english ? 3 : 4));
  const phrase = units.slice(at - n, at).join(sep);
  const times = Math.max(8, Math.ceil((e.english ? 60 : 24) / Math.max(1, phrase.length))) + rng.int(6);
  return [units.slice(0, at - n).join(sep), ...Array.from({ length: times }, () => phrase)].filter(Boolean).join(sep);
}

/** Whether the answer is long enough to cut short: 8 characters (4 words in English). */
function cuttable(e: Exchange): boolean {
  return e.english ? e.answer.split(/\s+/).length >= 4 : [...e.answer].length >= 8;
}

/** The answer cut between a quarter and three quarters of the way, never ending on a full stop; at least 4 characters (a word) gone. */
function cut(e: Exchange, rng: Rng): string {
  const chars = [...e.answer];
  const at = Math.floor(chars.length * (0.25 + 0.5 * rng.next()));
  let text = chars.slice(0, Math.max(1, Math.min(at, chars.length - 4))).join('');
  if (e.english) text = text.slice(0, Math.max(text.lastIndexOf(' '), text.indexOf(' ') + 1)); // at a word end
  // Not on a full stop, nor a closing quote after one.
  while (/[\s。！？.!?；;…]$/.test(text) || /[。！？.!?][”"’」』）)]+$/.test(text)) text = text.replace(/[”"’」』）)]+$/, '').replace(/[\s。！？.!?；;…]+$/, '');
  return text;
}

/** An answer in the other language: the same subject's for the identity questions, else any. */
function otherLanguage(e: Exchange, other: Exchange[], rng: Rng): { text: string } | null {
  const same = e.topic.name === 'identity' ? other.filter((o) => o.topic.name === 'identity' && subject.get(o.question) === subject.get(e.question)) : [];
  const from = same.length > 0 ? same : other;
  return from.length > 0 ? { text: rng.pick(from).answer } : null;
}

/** Print pairs per kind of question and of rejected answer (train/val), how the wrong answers were found, and the token-length distribution. */
function summary(train: Pair[], val: Pair[]): void {
  const both = [...train, ...val];
  const cell = (ps: Pair[], f: (p: Pair) => boolean) => `${train.filter((p) => ps.includes(p) && f(p)).length} / ${val.filter((p) => ps.includes(p) && f(p)).length}`;
  console.log(['kind of question', 'pairs', ...REJECTED].join('\t'));
  for (const name of [...TOPIC_NAMES, 'total']) {
    const ps = name === 'total' ? both : both.filter((p) => p.topic === name);
    if (ps.length > 0) console.log([name, cell(ps, () => true), ...REJECTED.map((k) => cell(ps, (p) => p.rejected === k))].join('\t'));
  }
  console.log(`wrong answers: ${HOW.map((h) => `${h} ${cell(both, (p) => p.how === h)}`).join(', ')}`);
  for (const [name, ps] of [['chosen', both.map((p) => p.tokens[0])], ['rejected', both.map((p) => p.tokens[1])]] as const) {
    const sorted = [...ps].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    console.log(`tokens per ${name} conversation: min ${sorted[0]}, median ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, max ${sorted[sorted.length - 1]}`);
    const bins = [64, 128, 192, 256, 320, 400, MAX_TOKENS];
    let from = 0;
    for (const to of bins) {
      const n = sorted.filter((t) => t > from && t <= to).length;
      console.log(`  ${String(from + 1).padStart(3)}–${String(to).padEnd(3)} ${String(n).padStart(6)} ${((100 * n) / sorted.length).toFixed(0).padStart(3)}%`);
      from = to;
    }
  }
}
