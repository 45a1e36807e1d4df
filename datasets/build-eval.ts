// Builds the shipped evaluation data, datasets/eval/, from what is already shipped (nothing is downloaded):
//   mcq/  multiple-choice questions in C-Eval's layout — dev/{subject}_dev.csv (5 few-shot examples each),
//         val/{subject}_val.csv (the scored items), columns id,question,A,B,C,D,answer, and
//         subject_mapping.json — on six kinds of fact that the SFT set teaches (much of it in the corpus too):
//           poem_author     《title》的作者是？            → four poets
//           poem_title      「line」出自哪首作品？          → four titles
//           classic_source  「saying」出自哪部典籍？        → four books (论语, 道德经, 三字经, …)
//           linux_command   ls 命令是做什么的？            → four man-page descriptions
//           calc_function   LibreOffice Calc 的 ABS 函数有什么用？ → four function descriptions
//           sotu_president  Who delivered the State of the Union address in 1962? → four presidents
//         The wrong options are other facts' answers of the same kind (another poet, another title, another
//         command's description…), preferably of the same flavour (a poet of the same era and genre, a title of
//         the same kind of poem), never equal to the answer or each other, never one that could also be right
//         or that gives the answer away. Facts that are ambiguous are skipped: a title that two poets used, a
//         line found in two works, a poet whose name is also a title, a saying found in two books.
//   ppl/  {zh-modern,zh-classical,en}.jsonl.gz: the corpus documents that went to the validation split when
//         the shipped base model's shards were prepared, i.e. text it never trained on, for perplexity.
// See datasets/README.md for the counts.
//
//   npx tsx datasets/build-eval.ts
//
// Every choice (which facts, which wrong options, where the answer goes) comes from seeded generators, and
// the answers are spread over A–D as evenly as possible in every file, so the same inputs give the same
// files byte for byte.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readDocuments } from '../lib/data/documents.js';
import { isValDocument, VAL_FRACTION } from '../lib/data/prepare.js';
import { mcqPrompt, mcqQuestion } from '../lib/eval/mcq.js';
import { LETTERS, type Letter, type McqItem } from '../lib/eval/mcq-data.js';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { Rng } from '../lib/rng.js';
import { applyChatTemplate } from '../lib/tokenizer/chat.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';

/** The corpus files, in the order the shipped base model's `tinyllm data prepare --input …` read them (see datasets/README.md). */
const CORPUS = ['zh-modern', 'zh-classical', 'en'] as const;
const CORPUS_DIR = 'datasets/corpus';
const SFT = 'datasets/sft';
const OUT = 'datasets/eval';
const TOKENIZER = 'datasets/tokenizer';
const SEED = 20241202;
/** Few-shot examples per subject (C-Eval's dev split has five). */
const DEV = 5;
/** Most scored items per subject. */
const MAX_VAL = 300;
/**
 * Longest item, in tokens of the shipped tokenizer, as a worked example in `tinyllm eval`'s few-shot prompt
 * ("题目：…", the four options, "答案是：X").
 */
const MAX_TOKENS = 100;
/** Longest dev item: short worked examples leave the questions room in the context. */
const MAX_DEV_TOKENS = 64;
/**
 * The shipped models' context, in tokens: every val item's five-shot prompt (the header, the five dev items
 * and the question) fits in it, even wrapped as a chat turn (`tinyllm eval --chat`), so no example is dropped.
 */
const CONTEXT = (JSON.parse(readFileSync('datasets/models/chat/config.json', 'utf8')) as { max_position_embeddings: number }).max_position_embeddings;
/** Names that say the author is unknown: never an answer. */
const ANONYMOUS = new Set(['无名氏', '佚名', '不详']);

/** A fact to ask about: the question and its right option, and which of the other facts' answers may be wrong options. */
interface Fact {
  question: string;
  answer: string;
  /**
   * Wrong options of the same flavour are preferred (a poet of the same era and genre, …): the first level
   * of the list at which other facts' answers give three wrong options.
   */
  flavour: string[];
  /** Whether another fact's answer may be a wrong option here: not also right, no give-away. By default any other answer may. */
  allows?: (option: string) => boolean;
}

/** A subject, as subject_mapping.json names it, and its facts. */
interface Subject {
  name: string;
  english: string;
  chinese: string;
  category: 'STEM' | 'Social Science' | 'Humanities' | 'Other';
  facts: Fact[];
  /** At most this many facts with one answer, so that one poet or one book does not fill the subject. */
  perAnswer: number;
}

/** A question as written: its options in order and the letter of the right one. */
interface Item {
  question: string;
  options: [string, string, string, string];
  answer: Letter;
}

/** A question in the SFT set and its answer. */
interface Exchange {
  question: string;
  answer: string;
}

/** A poem the SFT set asks about, from its answers: who wrote it, when, and the lines its questions quote. */
interface Poem {
  title: string;
  /** Empty for the Shijing's poems. */
  author: string;
  /** "唐代", "宋代", "诗经", …; empty where the SFT set names none (花间集, 楚辞). */
  era: string;
  /** 词 when the title names a tune and a first line ("浣溪沙·晚起红房醉欲消"), else 诗 ("秋兴八首·其一" is one of a set of 诗). */
  genre: '诗' | '词';
  /** Lines that questions quote ("能饮一杯无", "大漠孤烟直，长河落日圆"). */
  quoted: string[];
}

/** The zh-classical corpus: each document's title and author (its first two lines), and which documents hold each clause. */
interface Classical {
  /** Without punctuation or spaces, as titles are compared ("秋胡行 其一" is the SFT set's "秋胡行其一"). */
  titles: string[];
  /** Empty where the second line is not a name (the Shijing, the Classics, the Yuan plays' arias). */
  authors: string[];
  clauses: Map<string, number[]>;
}

const tokenizer = loadTokenizer(TOKENIZER);
const exchanges = readExchanges();
const classical = await readClassical();
const poems = sftPoems(exchanges);
// Titles of poems: the SFT set's and the corpus documents' that name an author (a document without one may
// begin with its author's name: "辛弃疾\n莺未老。…").
const allTitles = new Set([...classical.titles.filter((_, d) => classical.authors[d] !== ''), ...poems.map((p) => plain(p.title))]);

const subjects: Subject[] = [
  { name: 'poem_author', english: 'Poem author', chinese: '诗词作者', category: 'Humanities', facts: poemAuthors(), perAnswer: 4 },
  { name: 'poem_title', english: 'Poem of a line', chinese: '诗句出处', category: 'Humanities', facts: poemTitles(), perAnswer: 1 },
  { name: 'classic_source', english: 'Source of a classical saying', chinese: '名句出处', category: 'Humanities', facts: classicSources(), perAnswer: 30 },
  { name: 'linux_command', english: 'Linux command', chinese: 'Linux 命令', category: 'STEM', facts: linuxCommands(), perAnswer: 1 },
  { name: 'calc_function', english: 'LibreOffice Calc function', chinese: 'Calc 函数', category: 'STEM', facts: calcFunctions(), perAnswer: 1 },
  { name: 'sotu_president', english: 'State of the Union president', chinese: '美国国情咨文总统', category: 'Humanities', facts: sotuPresidents(), perAnswer: 12 },
];

// The folder is made whole each time: a subject renamed or dropped leaves no stale file behind.
rmSync(join(OUT, 'mcq'), { recursive: true, force: true });
for (const split of ['dev', 'val']) mkdirSync(join(OUT, 'mcq', split), { recursive: true });
console.log(['subject', 'facts', 'dev', 'val', 'val answers A/B/C/D', 'tokens per item median/max', '5-shot chat prompt max', 'example'].join('\t'));
subjects.forEach((s, i) => {
  const { dev, val } = items(s, new Rng(SEED + i));
  writeFileAtomic(join(OUT, 'mcq', 'dev', `${s.name}_dev.csv`), csv(dev));
  writeFileAtomic(join(OUT, 'mcq', 'val', `${s.name}_val.csv`), csv(val));
  summary(s, dev, val);
});
const mapping = Object.fromEntries(subjects.map((s) => [s.name, [s.english, s.chinese, s.category]]));
writeFileAtomic(join(OUT, 'mcq', 'subject_mapping.json'), JSON.stringify(mapping, null, 2) + '\n');
await heldOutTexts();

// ---------------------------------------------------------------------------------------------------
// Questions: facts → items with three wrong options, answers spread over A–D.

/**
 * The subject's facts in a seeded order (at most `perAnswer` per answer), each with three wrong options
 * drawn from the other kept facts' answers — so a wrong option is as likely to be a famous poet as the
 * right one is, and no option is a give-away by how often it is right — then placed around the answer at
 * a letter from an even spread. The first DEV short enough are the dev split; the first MAX_VAL of the
 * others whose five-shot prompt fits the context are the val split.
 */
function items(s: Subject, rng: Rng): { dev: Item[]; val: Item[] } {
  const perAnswer = new Map<string, number>();
  const kept = rng.shuffle([...s.facts]).filter((f) => {
    const n = perAnswer.get(f.answer) ?? 0;
    perAnswer.set(f.answer, n + 1);
    return n < s.perAnswer;
  });
  // Drafts list the answer first. (The tokenizer splits its input at line breaks first, so where the
  // options go does not change the counts.)
  const drafts: { item: McqItem; tokens: number }[] = [];
  for (const f of kept) {
    const wrong = wrongOptions(f, kept, rng);
    if (!wrong) continue;
    const item = mcqItem(f.question, [f.answer, ...wrong], 'A');
    drafts.push({ item, tokens: tokenizer.encode(mcqQuestion(item, true)).length });
  }
  const dev = drafts.filter((d) => d.tokens <= MAX_DEV_TOKENS).slice(0, DEV).map((d) => d.item);
  const val: McqItem[] = [];
  for (const { item, tokens } of drafts) {
    if (val.length >= MAX_VAL) break;
    if (!dev.includes(item) && tokens <= MAX_TOKENS && promptTokens(s, item, dev) <= CONTEXT) val.push(item);
  }
  if (dev.length < DEV || val.length === 0) throw new Error(`${s.name}: ${dev.length} dev and ${val.length} val items could be made, expected ${DEV} and at least one`);
  const place = (drafts: McqItem[]): Item[] => {
    // The four letters in a seeded order, over and over, then shuffled: every letter is right equally often
    // (±1), and which letters are right once more is drawn too (not always A).
    const order = rng.shuffle([...LETTERS]);
    const letters = rng.shuffle(drafts.map((_, i) => order[i % 4]!));
    return drafts.map((d, i) => {
      const options = rng.shuffle(d.options.slice(1));
      options.splice(LETTERS.indexOf(letters[i]!), 0, d.options[0]);
      return { question: d.question, options: options as Item['options'], answer: letters[i]! };
    });
  };
  return { dev: place(dev), val: place(val) };
}

/** Tokens of `tinyllm eval --chat`'s letter prompt for an item with the dev items as worked examples: the header, the examples and the question, as a user turn. */
function promptTokens(s: Subject, item: McqItem, dev: McqItem[]): number {
  return applyChatTemplate(tokenizer, [{ role: 'user', content: mcqPrompt(s.chinese, item, dev) }], { addGenerationPrompt: true }).ids.length;
}

/** Three different answers of other facts that this fact allows, of its flavour when three such exist; null when there are not three at all. */
function wrongOptions(f: Fact, facts: Fact[], rng: Rng): string[] | null {
  const usable = facts.filter((o) => o.answer !== f.answer && (f.allows?.(o.answer) ?? true));
  const levels = [...f.flavour.map((_, level) => usable.filter((o) => o.flavour[level] === f.flavour[level])), usable];
  for (const candidates of levels) {
    const distinct: string[] = [];
    for (const o of rng.shuffle([...candidates])) {
      if (!distinct.includes(o.answer)) distinct.push(o.answer);
      if (distinct.length === 3) return distinct;
    }
  }
  return null;
}

/** An item as lib/eval reads it from the CSV, to measure it with `tinyllm eval`'s own prompt. */
function mcqItem(question: string, options: string[], answer: Letter): McqItem {
  return { file: '', line: 0, id: '', question, options: options as McqItem['options'], answer };
}

/** Items as C-Eval's CSV: a header, then id (from 0), question, the four options and the answer's letter. */
function csv(items: Item[]): string {
  const field = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = items.map((it, id) => [String(id), it.question, ...it.options, it.answer].map(field).join(','));
  return ['id,question,A,B,C,D,answer', ...rows].join('\n') + '\n';
}

/** Print a subject's counts, answer letters, token lengths (of an item; of the longest five-shot prompt) and one item. */
function summary(s: Subject, dev: Item[], val: Item[]): void {
  const letters = LETTERS.map((l) => val.filter((it) => it.answer === l).length).join('/');
  const [shots, questions] = [dev, val].map((items) => items.map((it) => mcqItem(it.question, it.options, it.answer)));
  const tokens = [...shots!, ...questions!].map((it) => tokenizer.encode(mcqQuestion(it, true)).length).sort((a, b) => a - b);
  // Measured again as written, answers in place: the limits must hold (they do when the order changes nothing).
  const prompt = Math.max(...questions!.map((it) => promptTokens(s, it, shots!)));
  if (tokens[tokens.length - 1]! > MAX_TOKENS || prompt > CONTEXT) throw new Error(`${s.name}: an item of ${tokens[tokens.length - 1]} tokens or a prompt of ${prompt}, expected at most ${MAX_TOKENS} and ${CONTEXT}`);
  const example = mcqQuestion(questions![0]!, true).trim().replace(/\n/g, ' ');
  console.log([s.name, s.facts.length, dev.length, val.length, letters, `${tokens[tokens.length >> 1]}/${tokens[tokens.length - 1]}`, prompt, example].join('\t'));
}

// ---------------------------------------------------------------------------------------------------
// Facts: poems, sayings, commands, functions, presidents — read from the SFT answers.

/** 《title》的作者是？ — for each poem whose title only one poet used, in the SFT set and in the corpus. */
function poemAuthors(): Fact[] {
  // Who used each title: the SFT poems' authors ('' for the Shijing's), and the corpus documents' that name one.
  const authorsOf = new Map<string, Set<string>>();
  const add = (title: string, author: string) => authorsOf.set(title, (authorsOf.get(title) ?? new Set()).add(author));
  for (const p of poems) add(plain(p.title), p.author);
  classical.titles.forEach((t, d) => classical.authors[d] && add(t, classical.authors[d]));
  const named = (p: Poem) => isPoet(p.author) && authorsOf.get(plain(p.title))!.size === 1 && !p.title.includes(p.author);
  return poems.filter(named).map((p) => ({ question: `《${p.title}》的作者是？`, answer: p.author, flavour: [`${p.era}${p.genre}`, p.genre],
    allows: (poet) => !p.title.includes(poet) })); // (《赠孟浩然》 is not asked with 孟浩然 among the options)
}

/** 「line」出自哪首作品？ — for each poem, one line its SFT questions quote that no other work holds. */
function poemTitles(): Fact[] {
  // The SFT poems' own lines, by clause: a clause of two poems under different titles asks for both.
  const sftTitles = new Map<string, Set<string>>();
  for (const p of poems) for (const c of p.quoted.flatMap(clausesOf)) sftTitles.set(c, (sftTitles.get(c) ?? new Set()).add(p.title));
  const facts: Fact[] = [];
  for (const p of poems) {
    // The first line asked about (in the SFT files' order) that is long enough to recognise.
    const line = p.quoted.find((l) => plain(l).length >= 5 && !shares(l, p.title) && onlyIn(l, p, sftTitles));
    if (!line) continue;
    facts.push({ question: `「${line}」出自哪首作品？`, answer: `《${p.title}》`, flavour: [`${p.era}${p.genre}`, p.genre],
      allows: (title) => !shares(line, title) }); // (a 词's title holds its first line: never one that holds the line asked about)
  }
  return facts;
}

/**
 * Whether every clause of `line` is found only in poem `p`: among the SFT poems, in no other title; in the
 * corpus, only in documents with its title, its tune (the title before "·") or its author.
 */
function onlyIn(line: string, p: Poem, sftTitles: Map<string, Set<string>>): boolean {
  const [title, tune] = [plain(p.title), plain(p.title.split('·')[0]!)];
  return clausesOf(line).every((c) => sftTitles.get(c)!.size === 1
    && (classical.clauses.get(c) ?? []).every((d) => classical.titles[d] === title || classical.titles[d] === tune || (p.author !== '' && classical.authors[d] === p.author)));
}

/** 「saying」出自哪部典籍？ — the SFT set's sayings from eight classical books and its primers' couplets, each found in one book only. */
function classicSources(): Fact[] {
  const BOOKS = ['论语', '孟子', '大学', '中庸', '道德经', '幽梦影', '增广贤文', '菜根谭', '三字经', '千字文', '弟子规', '朱子家训'];
  const found: { quote: string; book: string; passage: string }[] = [];
  for (const { question, answer } of exchanges) {
    // “学而时习之，不亦说乎”出自哪里？ → 这句话出自《论语·学而》，是孔子说的。完整的原文是：…
    const saying = /^“(.+)”(?:出自哪里|这句话的出处是什么|出自哪部作品|是谁说的)？$/.exec(question);
    const source = /^这句话出自[^《]*《([^》·]+)[》·][^。]*。(?:完整的原文是：(.+))?$/s.exec(answer);
    if (saying && source && BOOKS.includes(source[1]!)) found.push({ quote: saying[1]!, book: source[1]!, passage: source[2] ?? '' });
    // 人之初，下一句是？ → 下一句是“性本善”，出自《三字经》。
    const line = /^(?:“(.+)”的下一句是什么？|(.+)，下一句是？|请接下一句：(.+))$/.exec(question);
    const next = /^下一句是“(.+)”，出自《(.+)》。$/.exec(answer);
    if (line && next && BOOKS.includes(next[2]!)) found.push({ quote: `${line[1] ?? line[2] ?? line[3]}，${next[1]}`, book: next[2]!, passage: '' });
  }
  // The text known of each book (sayings, passages, couplets), to tell a saying that two books share (论语
  // and 大学: “听讼，吾犹人也”; 论语 and 弟子规: “泛爱众，而亲仁”); a saying that names a book ("大学之道") is a give-away.
  const text = new Map(BOOKS.map((b) => [b, found.filter((f) => f.book === b).map((f) => plain(f.quote + f.passage)).join('|')]));
  return found
    .filter((f) => !BOOKS.some((b) => f.quote.includes(b)) && BOOKS.every((b) => b === f.book || !text.get(b)!.includes(plain(f.quote))))
    .map((f) => ({ question: `「${f.quote}」出自哪部典籍？`, answer: `《${f.book}》`, flavour: [] }));
}

/** ls 命令是做什么的？ — each command's one-line description (its man page's NAME line). */
function linuxCommands(): Fact[] {
  const found = new Map<string, { description: string; form: string }>();
  for (const { question, answer } of exchanges) {
    // Sections 1, 6 and 8 (commands), asked either way: "ls 命令是做什么的？" → "ls 用于列出目录内容。",
    // "用什么命令可以列出目录内容？" → "可以用 ls 命令，它用于列出目录内容。"
    if (!/^(\S+) 命令(是做什么的|有什么用)？$|^Linux 里的 \S+ 是干什么用的？$|^\S+ 这个命令是做什么的？$|^用什么命令可以|^在 Linux 上怎样/.test(question)) continue;
    const m = /^(\S+) (用于|是) ?([^\n]+)。$|^([^\s：]+)：([^\n]+)。$|^可以用 (\S+) 命令，它(用于)([^\n]+)。$/.exec(answer);
    if (!m) continue;
    const [name, form, description] = m[1] ? [m[1], m[2]!, m[3]!] : m[4] ? [m[4], '：', m[5]!] : [m[6]!, m[7]!, m[8]!];
    found.set(name, { description, form });
  }
  // A description that names its command ("base64：以 base64 方式…") gives the answer away: not asked, and not a wrong option for it.
  return [...found].filter(([name, d]) => !mentions(d.description, name)).map(([name, d]) => ({
    // Wrong options of the same form ("用于…" verb phrases, "是…" noun phrases) and about as long: neither gives the answer away.
    question: `${name} 命令是做什么的？`, answer: d.description, flavour: [`${d.form}${lengthClass(d.description)}`, d.form],
    allows: (o: string) => !mentions(o, name) && !similar(o, d.description),
  }));
}

/** LibreOffice Calc 的 ABS 函数有什么用？ — each function's description (its first sentence). */
function calcFunctions(): Fact[] {
  const found = new Map<string, string>();
  for (const { question, answer } of exchanges) {
    if (!/Calc|电子表格函数/.test(question)) continue;
    // "ABS 函数返回数字的绝对值。" / "XOR：若值为TRUE的参数的个数为奇数时，则返回TRUE。", then maybe "\n语法：…"
    const m = /^([A-Z][A-Z0-9.]*[A-Z0-9])(?: 函数|：)([^。\n]+)/.exec(answer);
    if (m && question.includes(m[1]!)) found.set(m[1]!, m[2]!.trim());
  }
  // A description that names functions or values ("与 STDEV 相同", "返回 URL 编码的字符串", "返回TRUE") is
  // left out: the names are clues of their own.
  return [...found].filter(([, d]) => !/[A-Z]{2,}/.test(d)).map(([name, d]) => ({
    question: `LibreOffice Calc 的 ${name} 函数有什么用？`, answer: d, flavour: [lengthClass(d)],
    allows: (o: string) => !similar(o, d), // (NORMSDIST and NORM.S.DIST, MIN and MINA say the same)
  }));
}

/** Who delivered the State of the Union address in 1962? — the years with one address; wrong options from presidents of the same 40 years (1790–1829, …) first. */
function sotuPresidents(): Fact[] {
  const facts = new Map<string, Fact>();
  for (const { answer } of exchanges) {
    // (A year with two addresses is answered "There were 2 …": not asked.)
    const m = /^(.+?) \([^)]+\) delivered the (\d{4}) State of the Union address\.$/.exec(answer);
    if (m) facts.set(m[2]!, { question: `Who delivered the State of the Union address in ${m[2]}?`, answer: m[1]!, flavour: [String(Math.floor((Number(m[2]) - 1790) / 40))] });
  }
  return [...facts].sort(([a], [b]) => Number(a) - Number(b)).map(([, f]) => f);
}

/** Whether a name is a poet's: known, not anonymous, not cut short ("宋代韩"), not noted ("尹鹗 六首"), and no title of a poem (李商隐's 《宋玉》). */
function isPoet(name: string): boolean {
  return name.length >= 2 && !/\s/.test(name) && !ANONYMOUS.has(name) && !allTitles.has(name);
}

/** Descriptions' length in steps of six characters: wrong options about as long as the answer. */
function lengthClass(text: string): string {
  return String(Math.floor(plain(text).length / 6));
}

/** Whether `text` names `name` as a word ("tk" in "操纵 Tk 内部状态", not "tr" in "string"). */
function mentions(text: string, name: string): boolean {
  return new RegExp(`(^|[^a-z0-9_])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_])`, 'i').test(text);
}

/**
 * Whether two descriptions may say the same: one holds the other, or half their pairs of characters are
 * shared (Dice coefficient; "控制系统的主机名" and "显示或设置系统的主机名"). Such a pair are never options of one question.
 */
function similar(a: string, b: string): boolean {
  const [x, y] = [plain(a), plain(b)];
  if (x.includes(y) || y.includes(x)) return true;
  const pairs = (s: string) => new Set([...s].slice(1).map((ch, i) => s[i] + ch));
  const [p, q] = [pairs(x), pairs(y)];
  const shared = [...p].filter((bg) => q.has(bg)).length;
  return (2 * shared) / (p.size + q.size) >= 0.5;
}

/** Whether two texts share two characters in a row: a line and a title that gives it away (「北山输绿涨横陂」, 《北山》). */
function shares(a: string, b: string): boolean {
  const [x, y] = [plain(a), plain(b)];
  for (let i = 0; i + 2 <= x.length; i++) if (y.includes(x.slice(i, i + 2))) return true;
  return false;
}

/** Text without punctuation, quotation marks or spaces: how lines are compared. */
function plain(text: string): string {
  return text.replace(/[\p{P}\p{S}\s]/gu, '');
}

/** The clauses of a text (between punctuation marks), without punctuation; those of two characters or more. */
function clausesOf(text: string): string[] {
  return text.split(/[\p{P}\s]+/u).map(plain).filter((c) => c.length >= 2);
}

// ---------------------------------------------------------------------------------------------------
// Reading the SFT set and the corpus.

/** Every question of the SFT conversations (train and val) with the answer that follows it. */
function readExchanges(): Exchange[] {
  const out: Exchange[] = [];
  for (const split of ['train', 'val']) {
    const text = gunzipSync(readFileSync(join(SFT, `${split}.jsonl.gz`))).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const messages = (JSON.parse(line) as { conversations: { role: string; content: string }[] }).conversations;
      messages.forEach((m, i) => {
        if (m.role === 'user' && messages[i + 1]?.role === 'assistant') out.push({ question: m.content, answer: messages[i + 1]!.content });
      });
    }
  }
  return out;
}

/**
 * The poems of the SFT answers, one per title and author: "《问刘十九》是唐代诗人白居易的作品。",
 * "这句出自唐代白居易的《问刘十九》。", "下一句是“…”，出自《诗经·国风·唐风》中的《羔裘》。".
 */
function sftPoems(all: Exchange[]): Poem[] {
  const byKey = new Map<string, Poem>();
  const poem = (title: string, author: string, era: string) => {
    const key = `${author}《${title}》`;
    const genre = /·(?!其)/.test(title) ? '词' : '诗';
    return byKey.get(key) ?? byKey.set(key, { title, author, era, genre, quoted: [] }).get(key)!;
  };
  for (const { question, answer } of all) {
    const by = /^《([^》]+)》是(?:(.*?)[诗词]人)?(.+?)的作品。/.exec(answer);
    if (by) poem(by[1]!, by[3]!, by[2] ?? '');
    const from = /^这句出自(.+)。$/.exec(answer) ?? /^下一句是“[^”]+”，出自(.+)。$/.exec(answer);
    const origin = from && (/^(《诗经[^》]*》)中的《(.+)》$/.exec(from[1]!) ?? /^(东汉末年|南唐|\p{Script=Han}代)?(.+?)的《(.+)》$/u.exec(from[1]!));
    if (!origin) continue;
    const p = origin.length === 3 ? poem(origin[2]!, '', '诗经') : poem(origin[3]!, origin[2]!, origin[1] ?? '');
    // The line asked about: “…”出自哪首诗？ / “…”的下一句是什么？ / …，下一句是？ / 请接下一句：…
    const quoted = /^“(.+)”/.exec(question)?.[1] ?? /^(.+)，下一句是？$/.exec(question)?.[1] ?? /^请接下一句：(.+)$/.exec(question)?.[1];
    if (quoted) p.quoted.push(quoted);
  }
  return [...byKey.values()];
}

/** The zh-classical corpus file's documents: titles, authors, and the documents that hold each clause. */
async function readClassical(): Promise<Classical> {
  const c: Classical = { titles: [], authors: [], clauses: new Map() };
  await readDocuments(join(CORPUS_DIR, 'zh-classical.jsonl.gz'), (text) => {
    const d = c.titles.length;
    const [title = '', second = '', ...body] = text.split('\n');
    // "静夜思\n李白\n…": a short second line without punctuation is the author's name.
    const named = /^\p{Script=Han}{1,6}$/u.test(second) && body.length > 0;
    c.titles.push(plain(title));
    c.authors.push(named ? second : '');
    for (const clause of new Set(clausesOf((named ? body : [second, ...body]).join('\n')))) {
      const docs = c.clauses.get(clause);
      if (docs) docs.push(d);
      else c.clauses.set(clause, [d]);
    }
  });
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Perplexity texts: the base model's validation documents.

/**
 * The corpus documents that `tinyllm data prepare` sent to the validation split for the shipped base model:
 * documents are counted over the three files in order, as readDocuments yields them (malformed lines
 * skipped), and isValDocument picks VAL_FRACTION of them; each file's are written in order.
 */
async function heldOutTexts(): Promise<void> {
  mkdirSync(join(OUT, 'ppl'), { recursive: true });
  let index = 0;
  for (const name of CORPUS) {
    const kept: string[] = [];
    let characters = 0;
    await readDocuments(join(CORPUS_DIR, `${name}.jsonl.gz`), (text) => {
      if (!isValDocument(index++, VAL_FRACTION)) return;
      kept.push(JSON.stringify({ text }));
      characters += text.length;
    });
    const gz = gzipSync(kept.join('\n') + '\n', { level: 9 });
    writeFileAtomic(join(OUT, 'ppl', `${name}.jsonl.gz`), gz);
    console.log(`ppl/${name}.jsonl.gz: ${kept.length} documents, ${(characters / 1e3).toFixed(0)}K characters, ${(gz.length / 1e3).toFixed(0)} KB gzipped`);
  }
  console.log(`${index} documents in all; validation fraction ${VAL_FRACTION}`);
}
