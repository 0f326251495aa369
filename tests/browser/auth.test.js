// auth.test.js URL TOKEN SHOT_DIR - the dashboard against a server started
// with --token-file: without a token the page says so and lists nothing;
// with the token typed into the header field, the list loads, a job's live
// progress arrives over the fetch-based event stream (EventSource cannot
// send the Authorization header), and the result, the boundary strip PNG
// and a download all load with the token. Screenshots go to SHOT_DIR.
'use strict';
const fs = require('fs');
const path = require('path');
const { assert, makeLog, run } = require('./lib');

const [url, tok, shots] = process.argv.slice(2);
const log = makeLog('auth: ');

run(shots, async (browser) => {
  const errors = [];
  {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#conn').textContent === 'token needed');
    log('no token: "token needed"');

    await page.fill('#token', tok);
    await page.dispatchEvent('#token', 'change');
    await page.waitForFunction(() => document.querySelector('#conn').textContent === '');

    // A job submitted through the page's form, which sends the token and
    // selects the new job at once, so the page follows it from its first
    // tile. The reference engine at levels 16, slow enough to watch even on
    // a fast CPU (a job submitted behind the page's back and clicked once
    // the list showed it was over before its stream opened, on CI).
    await page.waitForFunction(() => window.trainbound);
    await page.selectOption('#preset', 'multiplicative');
    await page.waitForFunction(() => document.querySelector('[name="model.amplitude"]').value === '0.2');
    await page.fill('[name="lr.levels"]', '16');
    await page.fill('[name="fit.max_level"]', '16');
    await page.fill('[name="name"]', 'auth: multiplicative');
    await page.selectOption('[name="precision"]', 'reference');
    await page.click('#submit-btn');
    await page.waitForSelector('#jobs tr.sel', { timeout: 10000 });
    const id = await page.evaluate(() => window.trainbound.selected);
    assert(id > 0, 'the job submitted with the token is selected');
    log('token set: the form submits and the list loads');
    const seen = new Set();
    for (let i = 0; i < 1200; i++) {
      const s = await page.evaluate(() => ({
        v: document.querySelector('#d-progress').value,
        st: document.querySelector('#d-status').textContent,
        conn: document.querySelector('#conn').textContent,
      }));
      assert(s.conn !== 'token needed', 'the stream was refused');
      seen.add(s.v);
      if (s.st === 'succeeded') break;
      await page.waitForTimeout(50);
    }
    assert((await page.textContent('#d-status')) === 'succeeded', 'job succeeded');
    const mids = [...seen].filter((v) => v > 0 && v < 1);
    log(`progress values seen: ${seen.size} (${mids.length} strictly between 0 and 1)`);
    assert(mids.length >= 1, 'live progress over the authorised event stream');

    await page.waitForFunction(() => {
      const im = document.querySelector('#strip-png');
      return im && im.src.startsWith('blob:') && im.complete && im.naturalWidth > 0;
    }, null, { timeout: 10000 });
    await page.waitForFunction(() => /engine/.test(document.querySelector('#facts').textContent));
    log('result, facts and strip PNG loaded with the token');

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#d-npy')]);
    const file = await dl.path();
    const head = fs.readFileSync(file).subarray(0, 6);
    assert(head[0] === 0x93 && head.subarray(1, 6).toString() === 'NUMPY', 'the download is an .npy');
    log('labels .npy downloaded with the token');
    await page.screenshot({ path: path.join(shots, 'auth.png'), fullPage: true });
    assert(errors.length === 0, 'page errors:\n' + errors.join('\n'));
    log('ok');
  }
}, { acceptDownloads: true });
