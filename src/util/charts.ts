// Charts for reports (scaling fits, training curves, model cards): ECharts renders an SVG on the
// server (no DOM, no canvas), resvg turns it into a PNG, and the HTML page embeds the SVG so it
// opens anywhere without scripts. The web app can use the same ECharts options in the browser.

import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import { writeFileAtomic } from './atomic.ts';

export type ChartOptions = echarts.EChartsOption;

export interface RenderedChart {
  svg: string;
  png: Uint8Array;
  html: string;
}

/** Renders ECharts options to SVG, PNG and a standalone HTML page. */
export function renderChart(options: ChartOptions, size: { width?: number; height?: number; title?: string } = {}): RenderedChart {
  const width = size.width ?? 800;
  const height = size.height ?? 480;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  let svg: string;
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', textStyle: { fontFamily: 'DejaVu Sans, Arial, sans-serif' }, ...options });
    svg = chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  const title = escapeHtml(size.title ?? 'genlab chart');
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title>\n<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}svg{max-width:100%;height:auto}</style></head>\n<body><h1>${title}</h1>\n${svg}\n</body></html>\n`;
  return { svg, png, html };
}

/** Writes NAME.svg, NAME.png and NAME.html (atomically) and returns their paths. */
export async function writeChart(basePath: string, options: ChartOptions, size: { width?: number; height?: number; title?: string } = {}): Promise<{ svg: string; png: string; html: string }> {
  const r = renderChart(options, size);
  const paths = { svg: `${basePath}.svg`, png: `${basePath}.png`, html: `${basePath}.html` };
  await writeFileAtomic(paths.svg, r.svg);
  await writeFileAtomic(paths.png, r.png);
  await writeFileAtomic(paths.html, r.html);
  return paths;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
