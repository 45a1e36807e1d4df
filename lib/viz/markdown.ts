// Markdown to HTML with markdown-it: chat replies, reports and tables in notebooks.
import MarkdownIt from 'markdown-it';

// Raw HTML in the source is escaped: model output is untrusted text.
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

/** Render markdown to an HTML fragment. */
export function renderMarkdown(source: string): string {
  return md.render(source);
}
