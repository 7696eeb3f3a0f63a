// The scaling chart in the browser: the server's ECharts options (scalingChartOptions, the same as
// the sweep's scaling.png) drawn with ECharts' SVG renderer, with a layout for the screen it is on
// (legend beside the plot on wide screens, wrapped below it on phones), tooltips, and a y-axis that
// follows the measured and predicted losses: a bootstrap interval from a degenerate fit can reach
// 1e28 nats and would otherwise flatten every run into one line.

import { useEffect, useRef, useState } from 'react';
import * as echarts from 'echarts/core';
import { LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { ScalingDetail } from '../api.ts';

echarts.use([LineChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

const FONT = "'Inter', 'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', Arial, 'Liberation Sans', sans-serif";
const LEGEND_FONT_SIZE = 11;
const LEGEND_ICON = 18;
const LEGEND_GAP = 8;
const LEGEND_ROW = 20;
/** Below this width the legend goes under the plot. */
const WIDE = 700;

type Series = { name?: string; data?: unknown[] } & Record<string, unknown>;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** 2.75e10 rather than 2.75e+10. */
export const exp = (v: number, digits = 2): string => v.toExponential(digits).replace('e+', 'e');

let measurer: CanvasRenderingContext2D | null = null;
function textWidth(s: string): number {
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer) return s.length * LEGEND_FONT_SIZE * 0.6;
  measurer.font = `${LEGEND_FONT_SIZE}px ${FONT}`;
  return measurer.measureText(s).width;
}

/** Rows a horizontal legend of these names wraps into at this width (ECharts wraps the same way). */
function legendRows(names: readonly string[], width: number): number {
  let rows = 1;
  let x = 0;
  for (const n of names) {
    const w = LEGEND_ICON + 5 + textWidth(n);
    if (x > 0 && x + w > width) {
      rows++;
      x = 0;
    }
    x += w + LEGEND_GAP;
  }
  return rows;
}

const points = (s: Series): [number, number][] => (s.data ?? []).filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number');

/**
 * The y range: every run, predicted loss and measured loss, plus the other points of the chart
 * (fitted curves, interval ends) that lie within twice their spread of them.
 */
function yRange(detail: ScalingDetail, series: readonly Series[]): { min: number; max: number; step: number; clipped: boolean } {
  const anchors = [...detail.runs.map((r) => r.valLoss), ...detail.verifications.map((v) => v.run.valLoss), ...detail.predictions.map((p) => p.loss)].filter((y): y is number => y !== null && Number.isFinite(y));
  let lo = Math.min(...anchors);
  let hi = Math.max(...anchors);
  const span = Math.max(hi - lo, 0.05 * Math.abs(hi));
  const [floor, ceiling] = [lo - 2 * span, hi + 2 * span];
  const all = series.flatMap((s) => points(s).map(([, y]) => y));
  for (const y of all) {
    if (y >= floor && y <= ceiling) {
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
  }
  // Ends on whole ticks (0.1, 0.2, 0.25, 0.5, 1 … apart), so no stray label sits next to a round one.
  const raw = Math.max(hi - lo, 1e-3) / 5;
  const p10 = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p10).find((x) => x >= raw)!;
  const min = Math.floor((lo - step * 0.2) / step) * step;
  const max = Math.ceil((hi + step * 0.2) / step) * step;
  return { min: Number(min.toPrecision(12)), max: Number(max.toPrecision(12)), step, clipped: all.some((y) => y < min || y > max) };
}

export function chartLayout(detail: ScalingDetail, width: number): { option: echarts.EChartsCoreOption; height: number; clipped: boolean } {
  const base = structuredClone(detail.chart ?? {}) as Record<string, unknown>;
  const series = (Array.isArray(base['series']) ? base['series'] : []) as Series[];
  const names = series.map((s) => s.name ?? '');
  const y = yRange(detail, series);
  const wide = width >= WIDE;
  const rows = wide ? 0 : legendRows(names, width - 8);
  const legendHeight = rows * LEGEND_ROW;
  const legendText = { fontSize: LEGEND_FONT_SIZE, fontFamily: FONT, color: '#1d2025' };
  const option = {
    ...base,
    // The measured targets (the scatter series) sit on top of the interval markers they often overlap.
    series: series.map((s) => (s['type'] === 'scatter' ? { ...s, z: 5 } : s)),
    animation: false,
    // The panel's heading and caption say what the chart is.
    title: { show: false },
    textStyle: { fontFamily: FONT },
    tooltip: {
      trigger: 'item',
      confine: true,
      className: 'sc-tooltip',
      formatter: (p: { seriesName?: string; value?: unknown }) => {
        const [c, loss] = Array.isArray(p.value) ? (p.value as number[]) : [NaN, NaN];
        return `${escapeHtml(p.seriesName ?? '')}<br/>C = ${exp(c!)} FLOPs<br/>loss ${loss!.toFixed(4)} nats/token`;
      },
    },
    legend: wide
      ? { type: 'scroll', orient: 'vertical', right: 8, top: 12, bottom: 12, itemWidth: LEGEND_ICON, itemHeight: 10, itemGap: 10, textStyle: legendText }
      : { type: 'plain', orient: 'horizontal', left: 4, right: 4, bottom: 4, itemWidth: LEGEND_ICON, itemHeight: 10, itemGap: LEGEND_GAP, textStyle: legendText },
    grid: wide ? { left: 72, right: 250, top: 16, bottom: 58 } : { left: 58, right: 14, top: 14, bottom: 58 + legendHeight },
    xAxis: { ...(base['xAxis'] as object), nameGap: 30, axisLabel: { formatter: (v: number) => exp(v, 0), hideOverlap: true } },
    yAxis: { ...(base['yAxis'] as object), min: y.min, max: y.max, interval: y.step, nameGap: wide ? 48 : 40 },
  };
  return { option: option as echarts.EChartsCoreOption, height: wide ? 440 : 320 + legendHeight, clipped: y.clipped };
}

export function ScalingChart(props: { detail: ScalingDetail; label: string }) {
  const { detail, label } = props;
  const box = useRef<HTMLDivElement | null>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const el = box.current!;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  const layout = width > 0 ? chartLayout(detail, width) : null;

  useEffect(() => {
    if (!layout || !box.current) return;
    chart.current ??= echarts.init(box.current, null, { renderer: 'svg' });
    chart.current.setOption(layout.option, { notMerge: true });
    chart.current.resize();
    // The layout is a pure function of these two.
  }, [detail, width]);

  return (
    <>
      <div ref={box} className="scaling-canvas" style={{ height: layout?.height ?? 440 }} role="img" aria-label={label} />
      {layout?.clipped && <p className="hint">Points far outside the measured losses (wide bootstrap intervals) are cut at the edge of the plot; the tables below give their values.</p>}
    </>
  );
}
