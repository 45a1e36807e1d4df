import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../lib/viz/markdown.js';
import { heatmap, linePlot, plotlyHtml, scatterPlot } from '../../lib/viz/plotly.js';
import { vegaLiteToSvg } from '../../lib/viz/svg.js';
import { VEGA_LITE_SCHEMA, vegaLite } from '../../lib/viz/vegalite.js';

describe('plotly figures', () => {
  it('linePlot makes one scatter trace per series with default x and axis titles', () => {
    const fig = linePlot([{ name: 'loss', y: [3, 2, 1] }], { title: 'T', xTitle: 'step', logY: true });
    expect(fig.data).toEqual([{ type: 'scatter', mode: 'lines', name: 'loss', x: [0, 1, 2], y: [3, 2, 1], text: undefined }]);
    expect(fig.layout.title).toEqual({ text: 'T' });
    expect(fig.layout.xaxis).toEqual({ title: { text: 'step' } });
    expect(fig.layout.yaxis).toEqual({ type: 'log' });
  });
  it('scatterPlot uses markers', () => {
    expect(scatterPlot([{ name: 'p', x: [1], y: [2] }]).data[0]!.mode).toBe('markers');
  });
  it('rejects series whose x and y differ in length', () => {
    expect(() => linePlot([{ name: 'bad', x: [1, 2], y: [1] }])).toThrow("series 'bad': x has 2 values and y has 1");
  });
  it('heatmap keeps rows top to bottom and rejects ragged rows', () => {
    const fig = heatmap([[1, 2], [3, 4]], { xLabels: ['a', 'b'] });
    expect(fig.data[0]).toMatchObject({ type: 'heatmap', z: [[1, 2], [3, 4]], x: ['a', 'b'] });
    expect(fig.layout.yaxis).toMatchObject({ autorange: 'reversed' });
    expect(() => heatmap([[1, 2], [3]])).toThrow('heatmap: row 1 has 1 values, expected 2');
  });
  it('plotlyHtml inlines plotly.js and the figure', () => {
    const html = plotlyHtml(linePlot([{ name: 'a</script>', y: [1] }]), 'Loss & co');
    expect(html).toContain('<title>Loss &amp; co</title>');
    expect(html).toContain("Plotly.newPlot('plot'");
    expect(html).toContain('a\\u003c/script>'); // a name cannot close the script tag
    expect(html.length).toBeGreaterThan(1_000_000); // the minified plotly.js bundle is inside
  });
});

describe('vega-lite', () => {
  it('fills in the schema without overriding the spec', () => {
    expect(vegaLite({ mark: 'bar' })).toEqual({ $schema: VEGA_LITE_SCHEMA, mark: 'bar' });
  });
  it('renders a line chart to SVG with one path for the line', async () => {
    const svg = await vegaLiteToSvg({
      data: { values: [{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 2 }] },
      mark: 'line',
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/class="mark-line role-mark marks"[^]*<path/);
  });
});

describe('markdown', () => {
  it('renders tables and emphasis', () => {
    const html = renderMarkdown('| a | b |\n|---|---|\n| 1 | **2** |');
    expect(html).toContain('<table>');
    expect(html).toContain('<td><strong>2</strong></td>');
  });
  it('escapes raw HTML, since model output is untrusted', () => {
    expect(renderMarkdown('<script>alert(1)</script>')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n');
  });
});
