// Vega-Lite specs. JupyterLab 4 renders application/vnd.vegalite.v5+json natively; svg.ts renders the
// same spec to SVG in Node. (vega-lite's own types stay out of this file: tslab's module resolution
// cannot see them, and notebooks import this file.)

/** A Vega-Lite spec as plain JSON (see https://vega.github.io/vega-lite/docs/). */
export type VegaLiteSpec = Record<string, unknown>;

/** The Vega-Lite schema JupyterLab's built-in renderer understands. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** A Vega-Lite spec with the schema filled in, ready to display. */
export function vegaLite(spec: VegaLiteSpec): VegaLiteSpec {
  return { $schema: VEGA_LITE_SCHEMA, ...spec };
}
