// dashboard.test.js URL SHOT_DIR - the dashboard in Debian's headless
// Chromium (playwright-core, no downloaded browser): the page loads with no
// console errors; a preset fills the form; a submitted job appears in the
// list and its progress advances (event stream); the log-log plot, the
// refit, the boundary strip (and its zoom and PNG) and the facts render; a
// 422 puts the error next to its field. Replicates: a sweep with 4 shows D
// as mean ± std equal to the API's, its whiskers (data-errorbars) on the
// log-log and the per-replicate chart, and the refitted spread; studies
// with 3 replicates (two parameters and one) get one whisker per cell; a
// job with one replicate gets none. Screenshots go to SHOT_DIR.
'use strict';
const path = require('path');
const { assert, makeLog, run } = require('./lib');

const [url, shots] = process.argv.slice(2);
const log = makeLog('');

// The page's number format (app.js fmt).
function fmt(x, d) {
  if (x === null || x === undefined) return '–';
  if (typeof x !== 'number') return String(x);
  return Number.isInteger(x) ? String(x) : x.toPrecision(d || 4);
}

async function canvasInk(page, sel) {
  // Pixels with any ink in the largest canvas under sel (uPlot draws there).
  return page.evaluate((s) => {
    const cs = Array.from(document.querySelectorAll(s + ' canvas'));
    if (!cs.length) return 0;
    const c = cs.sort((a, b) => b.width * b.height - a.width * a.height)[0];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  }, sel);
}

run(shots, async (browser) => {
  const errors = [];
  let allow422 = false;
  {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (allow422 && /status of 422/.test(m.text())) return; // the validation step's own answer
      errors.push('console: ' + m.text());
    });
    page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
    page.on('requestfailed', (r) => {
      if (!/\/events$/.test(r.url())) errors.push('request failed: ' + r.url());
    });

    await page.goto(url, { waitUntil: 'load' });
    assert((await page.title()) === 'trainbound', 'title');
    await page.waitForFunction(() => typeof uPlot === 'function' && window.trainbound);
    log('page loaded');

    // A preset fills the form.
    await page.selectOption('#preset', 'multiplicative');
    await page.waitForFunction(() => document.querySelector('[name="model.amplitude"]').value === '0.2');
    assert((await page.inputValue('[name="lr.levels"]')) === '20', 'preset levels');
    // Smaller than the paper's 20 levels to keep the test short; enough tiles to see progress.
    await page.fill('[name="lr.levels"]', '16');
    await page.fill('[name="fit.max_level"]', '16');
    await page.fill('[name="name"]', 'browser test: multiplicative');
    // The reference engine: the fast default finishes this job before the
    // page can see its progress move.
    await page.selectOption('[name="precision"]', 'reference');
    await page.click('#submit-btn');
    await page.waitForSelector('#jobs tr.sel');
    const id = await page.evaluate(() => window.trainbound.selected);
    assert(id > 0, 'a job is selected');
    log(`job ${id} submitted`);

    // Progress advances (watch the detail bar and the list row).
    const seen = new Set();
    let shot = false;
    for (let i = 0; i < 1200; i++) {
      const s = await page.evaluate(() => ({
        v: document.querySelector('#d-progress').value,
        st: document.querySelector('#d-status').textContent,
        row: document.querySelector('#jobs tr.sel .st') ? document.querySelector('#jobs tr.sel .st').textContent : '',
      }));
      seen.add(s.v);
      if (!shot && s.v > 0.2 && s.v < 0.9) {
        await page.screenshot({ path: path.join(shots, 'progress.png') });
        shot = true;
      }
      if (s.st === 'succeeded') break;
      assert(s.st !== 'failed' && s.st !== 'canceled', 'job ended ' + s.st);
      await page.waitForTimeout(50);
    }
    assert((await page.textContent('#d-status')) === 'succeeded', 'job succeeded');
    const mids = [...seen].filter((v) => v > 0 && v < 1);
    log(`progress values seen: ${[...seen].length} (${mids.length} strictly between 0 and 1)`);
    assert(mids.length >= 2, 'progress advanced through at least two intermediate values');

    // The log-log plot, D, the strip, the PNG and the facts.
    await page.waitForSelector('#loglog canvas');
    await page.waitForSelector('#strip canvas');
    await page.waitForFunction(() => /^D = \d\.\d+ ± /.test(document.querySelector('#d-dim').textContent));
    assert((await canvasInk(page, '#loglog')) > 500, 'log-log plot has ink');
    assert((await canvasInk(page, '#strip')) > 500, 'strip has ink');
    const series = await page.evaluate(() => window.trainbound.plots.loglog.data[1].filter((v) => v).length);
    assert(series === 17, 'B(n) for n = 0..16 plotted, got ' + series);
    await page.waitForFunction(() => document.querySelector('#strip-png').naturalWidth > 0);
    const png = await page.evaluate(() => [document.querySelector('#strip-png').naturalWidth,
      document.querySelector('#strip-png').naturalHeight]);
    assert(png[0] === 4096 && png[1] === 32, 'strip PNG size ' + png);
    const facts = await page.textContent('#facts');
    assert(/roughness θ/.test(facts) && /convex/.test(facts) && /transitions/.test(facts), 'facts');
    await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
    log('plots rendered: ' + (await page.textContent('#d-dim')));
    // One replicate: no whiskers, no replicate chart, D as before.
    assert((await page.getAttribute('#loglog', 'data-errorbars')) === '0', 'no error bars with one replicate');
    assert(await page.evaluate(() => document.querySelector('#reps-box').hidden), 'no replicate chart with one replicate');
    assert(!/replicates/.test(await page.textContent('#d-dim')), 'D without replicates');

    // Refit over a window.
    await page.fill('#fit-min', '4');
    await page.fill('#fit-max', '12');
    await page.click('#refit button');
    await page.waitForFunction(() => /levels 4\.\.12/.test(document.querySelector('#d-dim').textContent));
    const fitted = await page.evaluate(() => window.trainbound.plots.loglog.data[2].filter((v) => v !== null).length);
    assert(fitted === 9, 'fitted line over levels 4..12, got ' + fitted);
    log('refit: ' + (await page.textContent('#d-dim')));

    // Zoom the strip by dragging over its middle fifth.
    const before = await page.evaluate(() => { const d = window.trainbound.plots.strip.data[0]; return d[d.length - 1] - d[0]; });
    const box = await (await page.$('#strip .u-over')).boundingBox();
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((b) => { const d = window.trainbound.plots.strip.data[0]; return d[d.length - 1] - d[0] < b / 2; }, before);
    await page.screenshot({ path: path.join(shots, 'strip-zoomed.png'), fullPage: true });
    await page.click('#strip-reset');
    log('strip zoomed and reset');

    // A spec error appears next to its field.
    allow422 = true;
    await page.fill('[name="lr.levels"]', '99');
    await page.click('#submit-btn');
    await page.waitForSelector('.field-error[data-for="/lr/levels"]');
    const next = await page.evaluate(() => {
      const e = document.querySelector('[name="lr.levels"]');
      return e.nextElementSibling && e.nextElementSibling.className + ': ' + e.nextElementSibling.textContent;
    });
    assert(/^field-error: /.test(next || ''), 'error next to lr.levels: ' + next);
    assert(await page.evaluate(() => document.querySelector('[name="lr.levels"]').classList.contains('invalid')), 'invalid class');
    await page.screenshot({ path: path.join(shots, 'validation.png') });
    allow422 = false;
    log('validation error shown: ' + next);

    // A study (4 x 3 cells, additive): its heat map with theta_c marked.
    const study = {
      name: 'browser test: study', model: { family: 'additive', amplitude: 0.01, wavelength: 1 }, x0: 5,
      divergence: { criterion: 'loss_sum', threshold: 1e16 }, lr: { levels: 10 }, steps: 200,
      vary: { 'model.amplitude': { linspace: [0.01, 0.2, 4] }, 'model.wavelength': { linspace: [0.1, 1, 3] } },
    };
    const sr = await page.request.post(new URL('/v1/jobs', url).href, { data: study });
    assert(sr.status() === 202, 'study submit: ' + sr.status() + ' ' + (await sr.text()));
    const sid = (await sr.json()).id;
    await page.waitForSelector('#jobs tr[data-id="' + sid + '"]');
    await page.click('#jobs tr[data-id="' + sid + '"]');
    await page.waitForSelector('#heatmap canvas', { timeout: 30000 });
    await page.waitForFunction(() => /θc/.test(document.querySelector('#heat-legend').textContent));
    assert((await canvasInk(page, '#heatmap')) > 2000, 'heat map has ink');
    // The theta_c line: white pixels inside the plot area.
    const white = await page.evaluate(() => {
      const c = document.querySelector('#heatmap canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 250 && d[i + 1] > 250 && d[i + 2] > 250 && d[i + 3] === 255) n++;
      return n;
    });
    assert(white > 50, 'theta_c line drawn (' + white + ' white pixels)');
    await page.screenshot({ path: path.join(shots, 'study-heatmap.png'), fullPage: true });
    log('study heat map rendered: ' + (await page.textContent('#heat-legend')));
    assert((await page.getAttribute('#heatmap', 'data-errorbars')) === '0', 'no error bars on a one-replicate study');
    assert(await page.evaluate(() => document.querySelector('#cells-box').hidden), 'no cell table on a one-replicate study');
    assert(!/whiskers/.test(await page.textContent('#heat-legend')), 'no whiskers in the legend');

    // ---- replicates ----
    const api = async (p) => {
      const r = await page.request.get(new URL(p, url).href);
      assert(r.status() === 200, p + ': ' + r.status());
      return r.json();
    };
    const finished = async (jid) => {
      for (let i = 0; i < 600; i++) {
        const j = await api('/v1/jobs/' + jid);
        if (j.status === 'succeeded') return j;
        assert(j.status !== 'failed' && j.status !== 'canceled', 'job ' + jid + ' ended ' + j.status);
        await page.waitForTimeout(100);
      }
      throw new Error('job ' + jid + ' did not finish');
    };

    // A sweep with 4 replicates, through the form.
    await page.selectOption('#preset', 'multiplicative');
    await page.waitForFunction(() => document.querySelector('[name="lr.levels"]').value === '20');
    await page.fill('[name="lr.levels"]', '12');
    await page.fill('[name="fit.max_level"]', '12');
    await page.fill('[name="replicates"]', '4');
    await page.fill('[name="name"]', 'browser test: replicates');
    // The study above is selected now: wait for the new job, not any change from job 1.
    const shown = await page.evaluate(() => window.trainbound.selected);
    await page.click('#submit-btn');
    await page.waitForFunction((old) => window.trainbound.selected && window.trainbound.selected !== old, shown);
    const rid = await page.evaluate(() => window.trainbound.selected);
    const rjob = await finished(rid);
    assert(rjob.spec.replicates === 4, 'spec replicates ' + rjob.spec.replicates);
    await page.waitForFunction(() => / over 4 replicates/.test(document.querySelector('#d-dim').textContent), null, { timeout: 30000 });
    const res = await api('/v1/jobs/' + rid + '/result');
    const rd = res.dimension, rsp = rd.spread;
    assert(rsp.n === 4 && rd.replicates.length === 4, 'API spread n ' + rsp.n);
    const want = 'D = ' + fmt(rsp.mean, 5) + ' ± ' + fmt(rsp.std, 3) + ' (mean ± std over 4 replicates; replicate 0: ' +
      fmt(rd.value, 5) + ' ± ' + fmt(rd.stderr, 3) + ' OLS stderr';
    const dimTxt = await page.textContent('#d-dim');
    assert(dimTxt.startsWith(want), 'D text\n  got  ' + dimTxt + '\n  want ' + want + '...');
    // The job list: mean ± std from the summary.
    const ssp = rjob.summary.spread;
    const rowWant = fmt(ssp.mean, 4) + ' ± ' + fmt(ssp.std, 2) + ' (4 rep.)';
    await page.waitForFunction(([j, w]) => {
      const td = document.querySelector('#jobs tr[data-id="' + j + '"] .dim');
      return td && td.textContent === w;
    }, [rid, rowWant]);
    // Whiskers: one per level with a positive count in some replicate.
    const levelsWithCounts = rd.replicates[0].counts.filter((_, n) => rd.replicates.some((r) => r.counts[n] > 0)).length;
    await page.waitForFunction((n) => document.querySelector('#loglog').dataset.errorbars === String(n), levelsWithCounts);
    await page.waitForFunction(() => document.querySelector('#reps').dataset.errorbars === '4');
    assert(!(await page.evaluate(() => document.querySelector('#reps-box').hidden)), 'replicate chart shown');
    assert((await canvasInk(page, '#reps')) > 500, 'replicate chart has ink');
    assert(await page.evaluate(() => window.trainbound.plots.loglog.data.length === 5), 'log-log has min/max series');
    assert(/min\.\.max of B\(n\) over the 4 replicates/.test(await page.textContent('#loglog-legend')), 'log-log legend');
    await page.screenshot({ path: path.join(shots, 'replicates.png'), fullPage: true });
    log(`replicates: ${dimTxt}; ${levelsWithCounts} whiskers on the log-log, 4 on the replicate chart`);

    // The refit shows the refitted spread.
    await page.fill('#fit-min', '6');
    await page.fill('#fit-max', '12');
    await page.click('#refit button');
    await page.waitForFunction(() => /levels 6\.\.12/.test(document.querySelector('#d-dim').textContent));
    const refit = (await api('/v1/jobs/' + rid + '/dimension?min_level=6&max_level=12')).dimension;
    const refitWant = 'D = ' + fmt(refit.spread.mean, 5) + ' ± ' + fmt(refit.spread.std, 3) +
      ' (mean ± std over 4 replicates; replicate 0: ' + fmt(refit.value, 5) + ' ± ' + fmt(refit.stderr, 3) + ' OLS stderr';
    const refitTxt = await page.textContent('#d-dim');
    assert(refitTxt.startsWith(refitWant), 'refit text\n  got  ' + refitTxt + '\n  want ' + refitWant + '...');
    assert(refit.spread.mean !== rsp.mean, 'the refit changed the mean (' + refit.spread.mean + ')');
    assert((await page.getAttribute('#reps', 'data-errorbars')) === '4', 'replicate chart after the refit');
    log('refit with replicates: ' + refitTxt);

    // An optimizer through the form: beta = 1 is refused at its field; 0.5
    // runs heavy ball on the fast path, and the facts name the rule.
    await page.fill('[name="replicates"]', '');
    await page.selectOption('[name="optimizer.name"]', 'momentum');
    await page.fill('[name="optimizer.beta"]', '1');
    allow422 = true;
    await page.click('#submit-btn');
    await page.waitForSelector('.field-error[data-for="/optimizer/beta"]');
    allow422 = false;
    await page.fill('[name="optimizer.beta"]', '0.5');
    await page.fill('[name="name"]', 'browser test: momentum');
    await page.click('#submit-btn');
    await page.waitForFunction((old) => window.trainbound.selected && window.trainbound.selected !== old, rid);
    const mid = await page.evaluate(() => window.trainbound.selected);
    const mjob = await finished(mid);
    assert(mjob.spec.optimizer.name === 'momentum' && mjob.spec.optimizer.beta === 0.5,
      'spec optimizer ' + JSON.stringify(mjob.spec.optimizer));
    const mres = await api('/v1/jobs/' + mid + '/result');
    assert(mres.engine.precision === 'fast', 'momentum engine ' + JSON.stringify(mres.engine));
    await page.waitForFunction(() => /momentum, beta 0\.5/.test(document.querySelector('#facts').textContent), null, { timeout: 30000 });
    await page.selectOption('[name="optimizer.name"]', '');
    await page.fill('[name="optimizer.beta"]', '');
    log('momentum through the form: engine ' + mres.engine.precision + ' (' + mres.engine.isa + ')');

    // Studies with 3 replicates: one whisker per cell with spread.n > 1,
    // and the cell table's mean ± std equal to the API's.
    const studies = [
      ['two parameters', Object.assign({}, study, { name: 'browser test: study, 3 replicates', replicates: 3 }), 'study-replicates.png'],
      ['one parameter', {
        name: 'browser test: 1-D study, 3 replicates', model: { family: 'multiplicative', amplitude: 0.2, wavelength: 0.1 },
        lr: { levels: 10 }, replicates: 3, vary: { 'model.amplitude': { linspace: [0.05, 0.3, 4] } },
      }, 'study-1d-replicates.png'],
    ];
    for (const [what, spec, shot] of studies) {
      const pr = await page.request.post(new URL('/v1/jobs', url).href, { data: spec });
      assert(pr.status() === 202, what + ' submit: ' + pr.status() + ' ' + (await pr.text()));
      const stid = (await pr.json()).id;
      await finished(stid);
      const cells = (await api('/v1/jobs/' + stid + '/cells?limit=1000')).items;
      const withSpread = cells.filter((c) => c.spread && c.spread.n > 1).length;
      assert(withSpread === cells.length && withSpread > 0, what + ': cells with spread ' + withSpread + ' of ' + cells.length);
      await page.waitForSelector('#jobs tr[data-id="' + stid + '"]');
      await page.click('#jobs tr[data-id="' + stid + '"]');
      await page.waitForFunction((n) => !document.querySelector('#study').hidden &&
        document.querySelectorAll('#cells tbody tr').length === n, cells.length, { timeout: 30000 });
      await page.waitForFunction((n) => document.querySelector('#heatmap').dataset.errorbars === String(n), withSpread);
      assert(/whiskers: mean ± std of D over the replicates \(n = 3\)/.test(await page.textContent('#heat-legend')), what + ': legend');
      const shown = await page.evaluate(() => Array.from(document.querySelectorAll('#cells tbody tr'))
        .map((tr) => [+tr.dataset.index, tr.querySelector('td.spread').textContent]));
      for (const [index, text] of shown) {
        const c = cells.find((x) => x.index === index);
        const w = fmt(c.spread.mean, 4) + ' ± ' + fmt(c.spread.std, 2);
        assert(text === w, what + ': cell ' + index + ' shows ' + text + ', the API ' + w);
      }
      assert((await canvasInk(page, '#heatmap')) > 2000, what + ': chart has ink');
      await page.screenshot({ path: path.join(shots, shot), fullPage: true });
      log(`${what} study with replicates: ${withSpread} whiskers; ${await page.textContent('#heat-legend')}`);
    }

    assert(errors.length === 0, 'console errors:\n' + errors.join('\n'));
    log('ok');
  }
});
