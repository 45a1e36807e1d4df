// Rendering Vega-Lite to SVG in Node, without a browser: for reports written by the CLI and for tests.
// vega and vega-lite are ES modules only, so notebooks (which tslab loads as CommonJS) do not import this.
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';
import { vegaLite, type VegaLiteSpec } from './vegalite.js';

/** Render a Vega-Lite spec to an SVG string. */
export async function vegaLiteToSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new View(parse(compile(vegaLite(spec) as unknown as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
