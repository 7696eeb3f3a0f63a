// The Scaling tab in Debian's Chromium (playwright-core), on a real test-sized sweep
// (testing/scaling-sweep.ts): the ECharts chart draws every series the API sends, with the measured
// target and the predicted ones as points whose tooltips give their losses; the y-axis follows
// the losses (not the 1e28-nat bootstrap intervals a degenerate fit can give); the tables show the
// API's fitted parameters, compute-optimal allocations and predicted vs measured losses; a damaged
// sweep shows the server's error; a server without sweeps shows the commands that make one; and it
// all fits 1280×800 and 390×844. Screenshots go to test-artifacts/ (look at them).
// Needs /usr/bin/chromium (apt-get install -y chromium) or GENLAB_CHROMIUM=/path/to/chromium.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { closeBrowserTest, launchChromium, openApp, type AppPage } from './testing/chromium.ts';
import { ARTIFACTS, buildWebApp, makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { makeTestSweep, type TestSweep } from './testing/scaling-sweep.ts';
import type { ScalingDetail } from './wire.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The chart's options as far as these tests read them. */
type Detail = Omit<ScalingDetail, 'chart'> & { chart: { series: { name: string; data: [number, number][] }[] } };

/** A number as the page shows it ("4.1986", "1.49e-10", "+4.89%", "12,345") is within rounding of `value`; null shows as "—". */
function shows(text: string, value: number | null, what: string): void {
  if (value === null) {
    assert.equal(text.trim(), '—', `${what}: the API has no value`);
    return;
  }
  const parsed = Number(text.trim().replace(/[,%+×]/g, ''));
  assert.ok(Number.isFinite(parsed), `${what}: "${text}" is not a number`);
  assert.ok(Math.abs(parsed - value) <= Math.max(5e-4, Math.abs(value) * 5e-3), `${what}: the page shows ${text}, the API says ${value}`);
}

describe('the Scaling tab in Chromium', () => {
  let tmp: string;
  let web: string;
  let sweep: TestSweep;
  let damagedDir: string;
  let tiny: TinyModel;
  let srv: TestServer;
  let browser: Browser;
  let detail: Detail;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-scaling-browser-'));
    web = path.join(tmp, 'web');
    // The app is built from the current sources (never a stale web/dist) while the sweep trains.
    const build = buildWebApp(web);
    sweep = await makeTestSweep(path.join(tmp, 'scaling'));
    damagedDir = path.join(tmp, 'damaged');
    fs.mkdirSync(damagedDir);
    for (const f of ['sweep.json', 'runs.json', 'fit.json']) fs.copyFileSync(path.join(sweep.dir, f), path.join(damagedDir, f));
    tiny = await makeTinyModel();
    const failed = await build;
    if (failed) throw failed;
    srv = await startTestServer(tiny.lm, tiny.dir, { webRoot: web, scaling: [sweep.dir, damagedDir] });
    // Damaged after the server started, as a file written by hand or cut short would be.
    fs.writeFileSync(path.join(damagedDir, 'fit.json'), '{"format": "genlab-scaling-fit", "paramKind": "total", "runs": 9, "chinchilla": null}');
    detail = (await (await fetch(`${srv.url}/api/scaling/scaling`)).json()) as Detail;
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(() => closeBrowserTest({ browser, srv, tiny, tmp }));

  const open = async (url: string, width: number, height: number): Promise<AppPage> => {
    const page = await openApp(browser, url, width, height);
    await page.getByRole('tab', { name: 'Scaling' }).click();
    return page;
  };

  const noOverflow = async (page: Page, width: number, what: string): Promise<void> => {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    const culprits = await page.evaluate((w) => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().right)}px)`).slice(0, 6), width);
    assert.ok(scrollWidth <= width && culprits.length === 0, `${what}: the page is ${scrollWidth}px wide in a ${width}px window: ${culprits.join(', ')}`);
  };

  /** The y-axis labels of the chart, as numbers (x labels are the ones with an exponent). */
  const yLabels = async (page: Page): Promise<number[]> =>
    (await page.locator('.scaling-canvas svg text').allTextContents()).filter((t) => /^\d+(\.\d+)?$/.test(t)).map(Number);

  it('draws the chart and the tables with the API’s numbers at 1280×800', async () => {
    const page = await open(srv.url, 1280, 800);
    await page.getByRole('heading', { name: `Scaling laws: ${sweep.dir}` }).waitFor();
    const svg = page.locator('.scaling-canvas svg');
    await svg.waitFor();
    // Every series the server sent is in the legend.
    const texts = await page.locator('.scaling-canvas svg text').allTextContents();
    for (const s of detail.chart.series) assert.ok(texts.includes(s.name), `legend lacks "${s.name}": ${texts.join(' | ')}`);
    assert.ok(texts.includes('training FLOPs (counted)') && texts.includes('validation loss (nats/token)'));
    assert.ok(texts.some((t) => /^1e\d+$/.test(t)), `x labels: ${texts.join(' | ')}`);
    // The y-axis follows the losses (and curves near them), never a far-off interval end.
    const losses = [...detail.runs.map((r) => r.valLoss), ...detail.summary.predictions.flatMap((r) => [r.predicted, r.measured])].filter((y): y is number => y !== null);
    const spread = Math.max(...losses) - Math.min(...losses);
    const ys = await yLabels(page);
    assert.ok(ys.length >= 3 && Math.min(...ys) >= Math.min(...losses) - 2.5 * spread && Math.max(...ys) <= Math.max(...losses) + 2.5 * spread, `y labels ${ys.join(', ')}`);
    assert.ok(Math.min(...ys) <= Math.min(...losses) && Math.max(...ys) >= Math.max(...losses), `y labels ${ys.join(', ')} do not cover the losses`);

    // The measured target is a green point whose tooltip gives the measured loss.
    // Markers left of the legend are data points (the legend repeats each series' marker).
    const legendLeft = await page.locator('.scaling-canvas svg text').evaluateAll((els, names) => Math.min(...els.filter((e) => names.includes(e.textContent ?? '')).map((e) => e.getBoundingClientRect().left)), detail.chart.series.map((s) => s.name));
    const markers = async (fill: string): Promise<number[]> =>
      page.locator(`.scaling-canvas svg path[fill="${fill}"]`).evaluateAll((els, left) => els.flatMap((e, i) => (e.getBoundingClientRect().right < left - 20 ? [i] : [])), legendLeft);
    const measuredAt = await markers('#2ca02c');
    assert.equal(measuredAt.length, detail.summary.predictions.filter((r) => r.measured !== null).length);
    const inRange = detail.summary.predictions.flatMap((r) => [r.interval[0], r.predicted, r.interval[1]]).filter((y) => y !== null && y >= Math.min(...ys) && y <= Math.max(...ys));
    assert.equal((await markers('#d62728')).length, inRange.length, 'a marker for each predicted loss and interval end on the plot');
    await page.locator('.scaling-canvas svg path[fill="#2ca02c"]').nth(measuredAt[0]!).hover({ force: true });
    const tip = page.locator('.sc-tooltip');
    await tip.waitFor();
    const tipText = await tip.innerText();
    assert.match(tipText, /^measured/);
    shows(tipText.match(/loss (\d+\.\d+)/)![1]!, sweep.verification.run.valLoss, 'measured point');
    assert.ok((await page.locator('.scaling-canvas svg path[fill="#d62728"]').count()) >= detail.summary.predictions.length, 'a marker for each predicted target');

    // The fitted law.
    for (const p of detail.summary.fit!.params) {
      const cells = page.locator(`#sc-fit tr[data-param="${p.name}"] td`);
      shows(await cells.nth(0).innerText(), p.value, `${p.name}`);
      const [lo, hi] = (await cells.nth(1).innerText()).replace(/[[\]]/g, '').split(', ');
      shows(lo!, p.interval[0], `${p.name} low`);
      shows(hi!, p.interval[1], `${p.name} high`);
    }
    const law = detail.summary.compute_law!;
    const lawText = await page.locator('#sc-law').innerText();
    const m = lawText.match(/L\(C\) = (\S+)·C(\S+) \+ (\S+) on the (\d+)-run compute frontier/)!;
    assert.ok(m, lawText);
    shows(m[1]!, law.a, 'a');
    shows(m[2]!, law.b, 'b');
    shows(m[3]!, law.c, 'c');
    assert.equal(Number(m[4]), law.frontier_runs);
    // Compute-optimal N and D at 10×, 100×, 1000× the largest run.
    const optimal = page.locator('#sc-optimal tbody tr');
    assert.equal(await optimal.count(), 3);
    for (const [i, o] of detail.summary.compute_optimal.entries()) {
      const row = optimal.nth(i);
      assert.equal(await row.locator('th').innerText(), `${o.multiple}×`);
      const cells = row.locator('td');
      shows(await cells.nth(0).innerText(), o.flops, `FLOPs at ${o.multiple}×`);
      shows(await cells.nth(1).innerText(), o.n === null ? null : Math.round(o.n), `N at ${o.multiple}×`);
      shows(await cells.nth(2).innerText(), o.d === null ? null : Math.round(o.d), `D at ${o.multiple}×`);
      shows(await cells.nth(3).innerText(), o.loss, `loss at ${o.multiple}×`);
    }
    // Predicted vs measured, with the error and the compute ratio.
    for (const r of detail.summary.predictions) {
      const cells = page.locator(`#sc-predictions tr[data-id="${r.id}"] td`);
      assert.match(await cells.nth(1).innerText(), new RegExp(`= ${r.ratio_to_largest_run >= 9.95 ? r.ratio_to_largest_run.toFixed(0) : r.ratio_to_largest_run.toFixed(1)}× largest run`));
      shows((await cells.nth(2).innerText()).split(' ')[0]!, r.predicted, `${r.id} predicted`);
      const [lo, hi] = (await cells.nth(2).innerText()).replace(/^\S+ \[|\]$/g, '').split(', ');
      shows(lo!, r.interval[0], `${r.id} interval low`);
      shows(hi!, r.interval[1], `${r.id} interval high`);
      if (r.measured === null) {
        assert.equal(await cells.nth(3).innerText(), 'not trained');
        continue;
      }
      shows(await cells.nth(3).innerText(), r.measured, `${r.id} measured`);
      const error = await cells.nth(4).innerText();
      shows(error.split(' ')[0]!, r.error_percent!, `${r.id} error`);
      assert.match(error, r.inside_interval ? /inside the interval/ : /outside the interval/);
    }
    await noOverflow(page, 1280, 'scaling view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'scaling-1280x800.png'), fullPage: true });

    // The damaged sweep: the server's message, naming the file, in place of the chart.
    await page.getByLabel('Sweep', { exact: true }).selectOption({ label: `${damagedDir} (cannot be read)` });
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /damaged\/fit\.json is not a valid genlab scaling file: chinchilla must be an object.*genlab scaling fit/);
    assert.equal(await page.locator('.scaling-canvas').count(), 0);
    assert.deepEqual(page.errors.filter((e) => !/status of 500/.test(e)), []);
    await page.context().close();
  });

  it('fits a 390×844 phone screen: legend under the plot, tables as cards', async () => {
    const page = await open(srv.url, 390, 844);
    await page.locator('.scaling-canvas svg').waitFor();
    const chart = (await page.locator('.scaling-canvas').boundingBox())!;
    assert.ok(chart.x >= 0 && chart.x + chart.width <= 390, `chart at ${JSON.stringify(chart)}`);
    // Every legend entry is inside the chart's box (wrapped rows, not cut off or paged).
    const legend = await page.locator('.scaling-canvas svg text').evaluateAll(
      (els, names) => els.filter((e) => names.includes(e.textContent ?? '')).map((e) => ({ name: e.textContent, box: e.getBoundingClientRect() })).map((e) => ({ name: e.name, left: e.box.left, right: e.box.right, bottom: e.box.bottom })),
      detail.chart.series.map((s) => s.name),
    );
    assert.equal(legend.length, detail.chart.series.length);
    for (const l of legend) assert.ok(l.left >= chart.x && l.right <= chart.x + chart.width && l.bottom <= chart.y + chart.height, `legend "${l.name}" outside the chart: ${JSON.stringify(l)}`);
    assert.equal(await page.locator('#sc-predictions thead').isVisible(), false, 'tables turn into cards');
    const v = sweep.verification;
    shows(await page.locator(`#sc-predictions tr[data-id="${v.prediction.id}"] td[data-label="Measured"]`).innerText(), v.run.valLoss, 'measured on a phone');
    await noOverflow(page, 390, 'scaling view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'scaling-390x844.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, 'scaling-390x844-full.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('without sweeps the tab shows the commands that make one', async () => {
    const plain = await startTestServer(tiny.lm, tiny.dir, { webRoot: web });
    try {
      const page = await open(plain.url, 390, 844);
      await page.getByText('This server shows no scaling sweep.').waitFor();
      const commands = await page.locator('.sc-commands code').allTextContents();
      assert.ok(commands[0]!.startsWith('genlab scaling sweep --out runs/scaling-l1 --shapes '), commands[0]);
      assert.equal(commands[1], 'genlab scaling fit runs/scaling-l1');
      assert.ok(commands.includes('genlab serve --model models/app --scaling runs/scaling-l1'));
      // The same commands as the docs.
      const docs = fs.readFileSync(path.join(ROOT, 'docs/scaling.md'), 'utf8');
      for (const c of commands.slice(0, 4)) assert.ok(docs.includes(c), `docs/scaling.md lacks \`${c}\``);
      await noOverflow(page, 390, 'scaling help');
      assert.deepEqual(page.errors, []);
      await page.context().close();
    } finally {
      await plain.close();
    }
  });
});
