// Which of its sources' documents a corpus keeps, the same for the shipped corpus (build-corpus.ts) and
// the large one (large-corpus.ts): once cleaned (cleanText, sources.ts), those of at least MIN_LENGTH
// characters, each text once across the whole corpus.
import { createHash } from 'node:crypto';

/** Characters: shorter documents (titles, empty pages) are dropped. */
export const MIN_LENGTH = 20;

/** A test that passes a text the first time it sees it and fails it after: exact de-duplication across everything one build gives it. */
export function firstSeen(): (text: string) => boolean {
  // Hashes, not the texts: the large corpus would otherwise hold every document twice in memory.
  const seen = new Set<string>();
  return (text) => {
    const hash = createHash('sha1').update(text).digest('base64');
    if (seen.has(hash)) return false;
    seen.add(hash);
    return true;
  };
}
