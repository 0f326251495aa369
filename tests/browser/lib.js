// lib.js - what the browser tests share: assert, a timestamped log, and
// Debian's headless Chromium in a fresh profile (playwright-core, no
// downloaded browser), closed and removed by run().
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

function assert(c, m) {
  if (!c) throw new Error('assertion failed: ' + m);
}

function makeLog(prefix) {
  const t0 = Date.now();
  return (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${prefix}${m}`);
}

// run(shots, body): launches Chromium, awaits body(browser), then closes it;
// any failure is printed and exits 1.
function run(shots, body, extra) {
  (async () => {
    fs.mkdirSync(shots, { recursive: true });
    // A fresh profile directory per run (playwright passes --user-data-dir).
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, Object.assign({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }, extra || {}));
    try {
      await body(browser);
    } finally {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  })().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}

module.exports = { assert, makeLog, run };
