// Plotly figures as plain data. JupyterLab renders the MIME type application/vnd.plotly.v1+json
// through the renderer that the `plotly` Python package installs into the venv; plotlyHtml() makes a
// standalone page for reports written from the command line.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** One plotly trace (a line, a set of points, a heatmap); see plotly.js's reference for all keys. */
export type PlotlyTrace = Record<string, unknown> & { type: string };

/** A plotly figure: traces plus layout, exactly what plotly.js's newPlot takes. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
}

/** Titles and axis options shared by every chart helper. */
export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

/** A named series of points; x defaults to 0, 1, 2, … */
export interface Series {
  name: string;
  y: number[];
  x?: (number | string)[];
  /** Hover text per point. */
  text?: string[];
}

/** Build a figure from traces and the shared chart options. */
export function plotlyFigure(data: PlotlyTrace[], options: ChartOptions = {}): PlotlyFigure {
  const axis = (title: string | undefined, log: boolean | undefined) => ({
    ...(title ? { title: { text: title } } : {}),
    ...(log ? { type: 'log' } : {}),
  });
  return {
    data,
    layout: {
      ...(options.title ? { title: { text: options.title } } : {}),
      xaxis: axis(options.xTitle, options.logX),
      yaxis: axis(options.yTitle, options.logY),
      width: options.width,
      height: options.height ?? 380,
      margin: { t: options.title ? 50 : 20, r: 20, b: 50, l: 60 },
    },
  };
}

/** Lines (mode 'lines') or points (mode 'markers') for each series. */
export function seriesPlot(series: Series[], mode: 'lines' | 'markers', options: ChartOptions = {}): PlotlyFigure {
  const traces = series.map((s) => {
    checkSeries(s);
    return { type: 'scatter', mode, name: s.name, x: s.x ?? s.y.map((_, i) => i), y: s.y, text: s.text };
  });
  return plotlyFigure(traces, options);
}

/** A line chart: loss curves, schedules, any y against x. */
export function linePlot(series: Series[], options: ChartOptions = {}): PlotlyFigure {
  return seriesPlot(series, 'lines', options);
}

/** A scatter chart: one marker per point. */
export function scatterPlot(series: Series[], options: ChartOptions = {}): PlotlyFigure {
  return seriesPlot(series, 'markers', options);
}

/** A heatmap of z[row][col] (attention weights, confusion matrices), rows drawn top to bottom. */
export function heatmap(
  z: number[][],
  options: ChartOptions & { xLabels?: string[]; yLabels?: string[]; colorscale?: string } = {},
): PlotlyFigure {
  const cols = z[0]?.length ?? 0;
  z.forEach((row, i) => {
    if (row.length !== cols) throw new Error(`heatmap: row ${i} has ${row.length} values, expected ${cols} like row 0`);
  });
  const fig = plotlyFigure(
    [{ type: 'heatmap', z, x: options.xLabels, y: options.yLabels, colorscale: options.colorscale ?? 'Viridis' }],
    options,
  );
  fig.layout.yaxis = { ...(fig.layout.yaxis as object), autorange: 'reversed' };
  return fig;
}

/**
 * A self-contained HTML page showing the figure (plotly.js inlined, works offline). plotly.js is found
 * from the working directory, the project root where the CLI and the notebook kernel run; import.meta
 * is off limits in lib/ because tslab loads it as CommonJS.
 */
export function plotlyHtml(fig: PlotlyFigure, title = 'tiny-llm-ts'): string {
  const require = createRequire(`${process.cwd()}/`);
  const plotlyJs = readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
  const json = JSON.stringify(fig).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<script>${plotlyJs}</script></head>
<body><div id="plot"></div>
<script>const fig = ${json}; Plotly.newPlot('plot', fig.data, fig.layout);</script>
</body></html>
`;
}

function checkSeries(s: Series): void {
  if (s.x && s.x.length !== s.y.length) {
    throw new Error(`series '${s.name}': x has ${s.x.length} values and y has ${s.y.length}, expected equal lengths`);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
