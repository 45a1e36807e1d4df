// Showing figures, specs and markdown inline in a tslab notebook. Each call sends one display_data
// message through tslab; outside a running kernel tslab throws "Not ready".
import * as tslab from 'tslab';
import { renderMarkdown } from './markdown.js';
import type { PlotlyFigure } from './plotly.js';
import { vegaLite, type VegaLiteSpec } from './vegalite.js';

/** MIME type of plotly figures; rendered by the `plotly` Python package's JupyterLab extension. */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** MIME type of Vega-Lite 5 specs; rendered by JupyterLab itself. */
export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';

// tslab types raw() as taking a string, but JSON MIME types must travel as objects (nbformat requires a
// dict for them), and tslab passes the value through unchanged.
function showJson(mime: string, value: object, target: tslab.Display): void {
  target.raw(mime, value as unknown as string);
}

/** A display area that each show call replaces in place: a plot that updates while training runs. */
export function liveDisplay(): tslab.Display {
  return tslab.newDisplay();
}

/** Show a plotly figure inline (or in a liveDisplay(), replacing what it showed). */
export function showPlotly(fig: PlotlyFigure, target: tslab.Display = tslab.display): void {
  showJson(PLOTLY_MIME, fig, target);
}

/** Show a Vega-Lite chart inline. */
export function showVegaLite(spec: VegaLiteSpec): void {
  showJson(VEGA_LITE_MIME, vegaLite(spec), tslab.display);
}

/** Show markdown, rendered to HTML by markdown-it. */
export function showMarkdown(source: string): void {
  tslab.display.html(renderMarkdown(source));
}
