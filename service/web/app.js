/*
 * app.js - the trainbound dashboard (served at / from the binary).
 *
 * The job list polls GET /v1/jobs (the browser revalidates with the weak
 * ETag: an unchanged list costs a 304); the selected job follows its
 * Server-Sent Events stream (/v1/jobs/{id}/events) until the terminal
 * event. A finished job shows the log-log plot of B(n) against 2^n with
 * the fitted line (uPlot), a refit control, the boundary strip (labels
 * from ?format=npy, binned along the learning rate, zoomable) and its PNG,
 * and the roughness facts. With replicates (spread.n > 1) D reads as
 * mean ± std over the replicates, the log-log plot gets min..max whiskers
 * of B(n) over the replicates, a chart shows each replicate's D with its
 * stderr, and a study's cells get mean ± std whiskers; the whiskers are
 * painted by uPlot draw hooks, which leave their count in the chart
 * container's data-errorbars. Charts are uPlot (vendored, see
 * service/web/vendor/LICENSES).
 */
'use strict';
(function () {
  const $ = (s) => document.querySelector(s);
  const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);
  const state = { jobs: new Map(), selected: null, es: null, plots: {}, labels: null, lr: null };

  function fmt(x, d) {
    if (x === null || x === undefined) return '–';
    if (typeof x !== 'number') return String(x);
    return Number.isInteger(x) ? String(x) : x.toPrecision(d || 4);
  }

  /* ---- auth: a bearer token from the header field, kept for the tab ---- */

  const TOKEN_KEY = 'trainbound.token';
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

  // fetch options with no-cache and, when a token is set, its Authorization.
  function withAuth(opts) {
    const o = Object.assign({ cache: 'no-cache' }, opts || {});
    if (token()) o.headers = Object.assign({}, o.headers || {}, { Authorization: 'Bearer ' + token() });
    return o;
  }

  // An authorised download or image: the bytes as an object URL.
  async function blobURL(url) {
    const r = await fetch(url, withAuth());
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return URL.createObjectURL(await r.blob());
  }

  async function fetchJSON(url, opts) {
    const r = await fetch(url, withAuth(opts));
    let body = null;
    const ct = r.headers.get('Content-Type') || '';
    if (ct.includes('json')) body = await r.json();
    return { status: r.status, body, headers: r.headers };
  }

  /* ---- the job list ---------------------------------------------------- */

  function progressOf(j) {
    return j.progress ? j.progress.fraction || 0 : 0;
  }

  // A spread with more than one replicate, else null.
  function multi(sp) {
    return sp && sp.n > 1 ? sp : null;
  }

  function dimText(j) {
    const s = j.summary;
    if (!s || s.dimension === undefined || s.dimension === null) return '';
    const sp = multi(s.spread);
    if (sp) return fmt(sp.mean, 4) + ' ± ' + fmt(sp.std, 2) + ' (' + sp.n + ' rep.)';
    return fmt(s.dimension, 4) + ' ± ' + fmt(s.stderr, 2);
  }

  function renderRow(j) {
    let tr = document.querySelector('#jobs tr[data-id="' + j.id + '"]');
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.id = j.id;
      tr.innerHTML = '<td class="id"></td><td class="name"></td><td class="st"></td>' +
        '<td><progress max="1" value="0"></progress></td><td class="dim"></td>';
      tr.addEventListener('click', () => select(j.id));
    }
    tr.querySelector('.id').textContent = j.id;
    tr.querySelector('.name').textContent = j.name || '';
    tr.querySelector('.name').title = j.name || '';
    const st = tr.querySelector('.st');
    st.textContent = j.status;
    st.className = 'st status st-' + j.status;
    tr.querySelector('progress').value = progressOf(j);
    tr.querySelector('.dim').textContent = dimText(j);
    tr.querySelector('.dim').title = j.summary && multi(j.summary.spread)
      ? 'mean ± std over the replicates' : '';
    tr.classList.toggle('sel', state.selected === j.id);
    return tr;
  }

  async function pollList() {
    try {
      const r = await fetchJSON('/v1/jobs?limit=50');
      if (r.status === 200) {
        const tbody = $('#jobs tbody');
        const rows = r.body.items.map((j) => {
          const known = state.jobs.get(j.id);
          // The event stream may be ahead of the list: keep the newer one.
          if (!known || known.revision <= j.revision) state.jobs.set(j.id, j);
          return renderRow(state.jobs.get(j.id));
        });
        tbody.replaceChildren(...rows);
      } else if (r.status === 401 || r.status === 403) {
        $('#conn').textContent = 'token needed';
      }
    } catch (e) {
      /* the server is restarting: try again at the next tick */
    }
    setTimeout(pollList, 1500);
  }

  /* ---- the selected job ------------------------------------------------ */

  function closeStream() {
    if (state.es) state.es.abort();
    state.es = null;
    $('#conn').textContent = '';
  }

  function showJob(j) {
    state.jobs.set(j.id, j);
    renderRow(j);
    if (state.selected !== j.id) return;
    $('#d-title').textContent = 'Job ' + j.id + (j.name ? ' – ' + j.name : '');
    const st = $('#d-status');
    st.textContent = j.status;
    st.className = 'status st-' + j.status;
    $('#d-progress').value = progressOf(j);
    $('#d-pct').textContent = (100 * progressOf(j)).toFixed(1) + ' % (' +
      (j.progress ? j.progress.done + ' / ' + j.progress.total + ' points' : '') + ')';
    $('#d-cancel').hidden = TERMINAL.has(j.status);
    $('#d-error').textContent = j.error || '';
  }

  async function select(id) {
    closeStream();
    state.selected = id;
    document.querySelectorAll('#jobs tr').forEach((tr) => tr.classList.toggle('sel', +tr.dataset.id === id));
    $('#empty').hidden = true;
    $('#detail').hidden = false;
    $('#d-done').hidden = true;
    $('#study').hidden = true;
    const r = await fetchJSON('/v1/jobs/' + id);
    if (r.status !== 200 || state.selected !== id) return;
    showJob(r.body);
    if (TERMINAL.has(r.body.status)) {
      if (r.body.status === 'succeeded') loadDone(r.body);
      return;
    }
    follow(id, r.body.revision);
  }

  /* Server-Sent Events over fetch, so that the Authorization header goes
   * along (EventSource cannot send one). Reconnects with Last-Event-ID,
   * backing off from 0.5 s to 8 s, until the job ends or the stream is
   * closed (state.es.abort()). */
  function follow(id) {
    const ctl = new AbortController();
    let last = null, wait = 500;
    state.es = ctl;
    const done = () => {
      ctl.abort();
      if (state.es === ctl) state.es = null;
    };
    const dispatch = (type, data) => {
      if (type === 'deleted') { done(); $('#conn').textContent = 'deleted'; return; }
      if (type !== 'state' && type !== 'progress') return;
      const j = JSON.parse(data);
      showJob(j);
      if (TERMINAL.has(j.status)) {
        done();
        $('#conn').textContent = '';
        if (j.status === 'succeeded' && state.selected === id) loadDone(j);
      }
    };
    const run = async () => {
      while (!ctl.signal.aborted) {
        try {
          const o = withAuth({ signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
          if (last !== null) o.headers['Last-Event-ID'] = last;
          const r = await fetch('/v1/jobs/' + id + '/events', o);
          if (r.status === 401 || r.status === 403) { $('#conn').textContent = 'token needed'; done(); return; }
          if (!r.ok || !r.body) throw new Error('events: ' + r.status);
          $('#conn').textContent = 'live';
          wait = 500;
          const rd = r.body.getReader(), dec = new TextDecoder();
          let buf = '', type = 'message', data = [];
          for (;;) {
            const { value, done: end } = await rd.read();
            if (end) break;
            buf += dec.decode(value, { stream: true });
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).replace(/\r$/, '');
              buf = buf.slice(nl + 1);
              if (line === '') {
                if (data.length) dispatch(type, data.join('\n'));
                type = 'message'; data = [];
              } else if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
              else if (line.startsWith('id:')) last = line.slice(3).trim();
            }
            if (ctl.signal.aborted) return;
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
        }
        if (ctl.signal.aborted) return;
        $('#conn').textContent = 'reconnecting';
        await new Promise((res) => setTimeout(res, wait));
        wait = Math.min(wait * 2, 8000);
      }
    };
    $('#conn').textContent = 'live';
    run();
  }

  /* ---- results: log-log plot, strip, facts ----------------------------- */

  async function loadDone(j) {
    if (j.kind === undefined) { // event data are the plain job view: ask the resource
      const r = await fetchJSON('/v1/jobs/' + j.id);
      if (r.status === 200) j = r.body;
    }
    if (j.kind === 'study') loadStudy(j.id);
    else loadResult(j.id);
  }

  function npyBytes(buf) {
    const u8 = new Uint8Array(buf);
    const hlen = u8[8] | (u8[9] << 8);
    return u8.subarray(10 + hlen);
  }

  async function loadResult(id) {
    const [dim, res, lab] = await Promise.all([
      fetchJSON('/v1/jobs/' + id + '/dimension'),
      fetchJSON('/v1/jobs/' + id + '/result'),
      fetch('/v1/jobs/' + id + '/boundary?format=npy', withAuth()).then((r) => r.arrayBuffer()),
    ]);
    if (state.selected !== id || dim.status !== 200 || res.status !== 200) return;
    $('#d-done').hidden = false;
    drawDimension(dim.body);
    $('#fit-min').value = dim.body.dimension.min_level;
    $('#fit-max').value = dim.body.dimension.max_level;
    state.labels = npyBytes(lab);
    state.lr = res.body.lr || res.body.spec.lr;
    drawStrip(0, state.labels.length);
    blobURL('/v1/jobs/' + id + '/boundary.png').then((u) => { $('#strip-png').src = u; }, () => {});
    $('#d-png').href = '/v1/jobs/' + id + '/boundary.png';
    $('#d-npy').href = '/v1/jobs/' + id + '/boundary?format=npy';
    $('#d-cnpy').href = '/v1/jobs/' + id + '/dimension?format=npy';
    drawFacts(res.body);
  }

  function plotWidth() {
    return Math.max(320, $('#right').clientWidth - 40);
  }

  /* Whiskers: a vertical line from y0 to y1 at x with caps of half-width w
   * (canvas pixels), added to the current path. */
  function whisker(ctx, x, y0, y1, w) {
    ctx.moveTo(x, y0); ctx.lineTo(x, y1);
    ctx.moveTo(x - w, y0); ctx.lineTo(x + w, y0);
    ctx.moveTo(x - w, y1); ctx.lineTo(x + w, y1);
  }

  // Clip a draw hook to the plot area.
  function clipPlot(u) {
    const b = u.bbox;
    u.ctx.beginPath();
    u.ctx.rect(b.left, b.top, b.width, b.height);
    u.ctx.clip();
  }

  /* Per level n: the smallest and largest positive B(n) over the
   * replicates (null where none is positive). */
  function countRange(reps) {
    const levels = Math.max(0, ...reps.map((c) => c.length));
    const lo = new Array(levels).fill(null), hi = new Array(levels).fill(null);
    for (const c of reps) {
      c.forEach((b, n) => {
        if (!(b > 0)) return;
        if (lo[n] === null || b < lo[n]) lo[n] = b;
        if (hi[n] === null || b > hi[n]) hi[n] = b;
      });
    }
    return [lo, hi];
  }

  function dimLine(fit) {
    const sp = multi(fit.spread);
    const win = 'r² ' + fmt(fit.r2, 4) + ', levels ' + fit.min_level + '..' + fit.max_level;
    if (!sp)
      return 'D = ' + fmt(fit.value, 5) + ' ± ' + fmt(fit.stderr, 3) + '  (' + win +
        (fit.fractal ? ', fractal' : ', not fractal') + ')';
    return 'D = ' + fmt(sp.mean, 5) + ' ± ' + fmt(sp.std, 3) + ' (mean ± std over ' + sp.n +
      ' replicates; replicate 0: ' + fmt(fit.value, 5) + ' ± ' + fmt(fit.stderr, 3) +
      ' OLS stderr, ' + win + '; ' + (sp.fractal ? 'fractal' : 'not fractal') + ', ' +
      sp.fractal_replicates + ' of ' + sp.n + ' replicates fractal)';
  }

  function drawDimension(d) {
    const counts = d.counts, fit = d.dimension;
    const sp = multi(fit.spread);
    const reps = sp && fit.replicates ? fit.replicates.map((r) => r.counts) : [];
    const xs = counts.map((_, n) => Math.pow(2, n));
    const ys = counts.map((b) => (b > 0 ? b : null));
    const line = counts.map((_, n) =>
      fit.value !== null && n >= fit.min_level && n <= fit.max_level
        ? Math.pow(2, fit.intercept + fit.value * n) : null);
    $('#d-dim').textContent = dimLine(fit);
    const data = [xs, ys, line];
    // With replicates: their smallest and largest B(n) as two faint series
    // (so that the y range holds them), whiskers between them (draw hook).
    if (reps.length) data.push(...countRange(reps));
    state.reps = reps;
    const lg = $('#loglog-legend');
    lg.hidden = !reps.length;
    lg.textContent = reps.length ? 'whiskers: min..max of B(n) over the ' + reps.length +
      ' replicates; dots: replicate 0 and its fit' : '';
    drawReplicates(fit);
    if (state.plots.loglog && state.plots.loglog.series.length !== data.length) {
      state.plots.loglog.destroy();
      delete state.plots.loglog;
    }
    if (state.plots.loglog) {
      state.plots.loglog.setData(data);
      return;
    }
    const series = [
      { label: 'boxes 2^n', value: (u, v) => (v === null ? '–' : '2^' + Math.round(Math.log2(v))) },
      { label: 'B(n)', stroke: '#1f5fbf', paths: () => null, points: { show: true, size: 8, fill: '#1f5fbf' } },
      { label: 'fit', stroke: '#b3261e', width: 2, points: { show: false } },
    ];
    if (data.length > 3)
      series.push(
        { label: 'replicates min', stroke: 'rgba(31,95,191,0.35)', width: 1, dash: [4, 4], points: { show: false } },
        { label: 'replicates max', stroke: 'rgba(31,95,191,0.35)', width: 1, dash: [4, 4], points: { show: false } });
    const box = $('#loglog');
    state.plots.loglog = new uPlot({
      width: plotWidth(), height: 280,
      scales: { x: { time: false, distr: 3, log: 2 }, y: { distr: 3, log: 2 } },
      series,
      axes: [{ label: '2^n (boxes across the lr range)' }, { label: 'B(n) boundary boxes' }],
      hooks: {
        // min..max of B(n) over the replicates, one whisker per level.
        draw: [(u) => {
          let drawn = 0;
          if (u.data.length > 4) {
            const ctx = u.ctx, px = devicePixelRatio, [lo, hi] = [u.data[3], u.data[4]];
            ctx.save();
            clipPlot(u);
            ctx.beginPath();
            ctx.strokeStyle = '#1f5fbf';
            ctx.lineWidth = 1.5 * px;
            for (let n = 0; n < u.data[0].length; n++) {
              if (lo[n] === null || hi[n] === null) continue;
              const x = u.valToPos(u.data[0][n], 'x', true);
              whisker(ctx, x, u.valToPos(lo[n], 'y', true), u.valToPos(hi[n], 'y', true), 5 * px);
              drawn++;
            }
            ctx.stroke();
            ctx.restore();
          }
          box.dataset.errorbars = String(drawn);
        }],
      },
    }, data, box);
  }

  /* Each replicate's D with its OLS stderr as whiskers, and the band
   * mean ± std (with replicates only). */
  function drawReplicates(fit) {
    const sp = multi(fit.spread), box = $('#reps');
    if (state.plots.reps) {
      state.plots.reps.destroy();
      delete state.plots.reps;
    }
    $('#reps-box').hidden = !sp;
    box.dataset.errorbars = '0';
    if (!sp || !fit.replicates) return;
    const reps = fit.replicates;
    const xs = reps.map((_, r) => r), ys = reps.map((r) => r.value);
    const ends = reps.flatMap((r) => [r.value - (r.stderr || 0), r.value + (r.stderr || 0)])
      .concat([sp.mean - sp.std, sp.mean + sp.std]).filter((v) => Number.isFinite(v));
    let lo = ends.length ? Math.min(...ends) : 0, hi = ends.length ? Math.max(...ends) : 1;
    const pad = hi > lo ? 0.08 * (hi - lo) : Math.max(0.05, Math.abs(hi) * 0.05);
    lo -= pad; hi += pad;
    state.plots.reps = new uPlot({
      width: plotWidth(), height: 200,
      scales: { x: { time: false, range: [-0.5, reps.length - 0.5] }, y: { range: [lo, hi] } },
      series: [{ label: 'replicate', value: (u, v) => (v === null ? '–' : String(v)) },
        { label: 'D', stroke: '#1f5fbf', paths: () => null, points: { show: true, size: 7, fill: '#1f5fbf' },
          value: (u, v, si, i) => (v === null || i === null ? '–' : fmt(v, 5) + ' ± ' + fmt(reps[i].stderr, 3)) }],
      axes: [{ label: 'replicate r (x0 moved r ulps up)', splits: () => xs, values: (u, sv) => sv.map((v) => String(v)) },
        { label: 'D' }],
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx, px = devicePixelRatio, b = u.bbox;
          ctx.save();
          clipPlot(u);
          // The band mean ± std and the mean.
          const y0 = u.valToPos(sp.mean + sp.std, 'y', true), y1 = u.valToPos(sp.mean - sp.std, 'y', true);
          ctx.fillStyle = 'rgba(179,38,30,0.12)';
          ctx.fillRect(b.left, Math.min(y0, y1), b.width, Math.max(1, Math.abs(y1 - y0)));
          ctx.beginPath();
          ctx.strokeStyle = '#b3261e';
          ctx.lineWidth = px;
          ctx.setLineDash([6 * px, 4 * px]);
          const ym = u.valToPos(sp.mean, 'y', true);
          ctx.moveTo(b.left, ym); ctx.lineTo(b.left + b.width, ym);
          ctx.stroke();
          ctx.setLineDash([]);
          // One whisker per replicate: D ± its stderr.
          let drawn = 0;
          ctx.beginPath();
          ctx.strokeStyle = '#1f5fbf';
          ctx.lineWidth = 1.5 * px;
          reps.forEach((r, i) => {
            if (r.value === null || !Number.isFinite(r.stderr)) return;
            whisker(ctx, u.valToPos(i, 'x', true), u.valToPos(r.value - r.stderr, 'y', true),
              u.valToPos(r.value + r.stderr, 'y', true), 4 * px);
            drawn++;
          });
          ctx.stroke();
          ctx.restore();
          box.dataset.errorbars = String(drawn);
        }],
      },
    }, [xs, ys], box);
  }

  /* Divergent fraction in nb bins over labels [i0, i1). */
  function binned(i0, i1) {
    const lab = state.labels, lr = state.lr;
    const n = lab.length, step = (lr.max - lr.min) / Math.max(1, n - 1);
    const span = Math.max(1, i1 - i0), nb = Math.min(span, 1000);
    const xs = new Array(nb), ys = new Array(nb);
    for (let b = 0; b < nb; b++) {
      const a = i0 + Math.floor((b * span) / nb), z = i0 + Math.floor(((b + 1) * span) / nb);
      let s = 0;
      for (let i = a; i < z; i++) s += lab[i];
      xs[b] = lr.min + a * step;
      ys[b] = z > a ? s / (z - a) : 0;
    }
    return [xs, ys];
  }

  function drawStrip(i0, i1) {
    const data = binned(i0, i1);
    if (state.plots.strip) {
      state.plots.strip.setData(data);
      return;
    }
    const lrIndex = (v) => {
      const lr = state.lr, n = state.labels.length;
      return Math.round(((v - lr.min) / (lr.max - lr.min)) * (n - 1));
    };
    state.plots.strip = new uPlot({
      width: plotWidth(), height: 180,
      scales: { x: { time: false }, y: { range: [0, 1] } },
      cursor: { drag: { x: true, y: false, setScale: false } },
      series: [
        { label: 'learning rate', value: (u, v) => fmt(v, 6) },
        { label: 'divergent fraction', stroke: '#b3261e', fill: 'rgba(179,38,30,0.25)',
          paths: uPlot.paths.stepped({ align: 1 }) },
      ],
      axes: [{ label: 'learning rate s' }, { label: 'divergent' }],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 2) return;
          const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
          const n = state.labels.length;
          const i0 = Math.max(0, Math.min(n - 1, lrIndex(a))), i1 = Math.max(i0 + 1, Math.min(n, lrIndex(b) + 1));
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          u.setData(binned(i0, i1));
        }],
      },
    }, data, $('#strip'));
  }

  /* ---- studies: a heat map of D over the grid, theta_c marked ----------- */

  async function loadStudy(id) {
    const rows = [];
    let offset = 0;
    for (;;) {
      const r = await fetchJSON('/v1/jobs/' + id + '/cells?limit=1000&offset=' + offset);
      if (r.status !== 200 || state.selected !== id) return;
      rows.push(...r.body.items.filter((c) => c.status === 'done'));
      if (r.body.next_offset === null) break;
      offset = r.body.next_offset;
    }
    $('#study').hidden = false;
    $('#d-csv').href = '/v1/jobs/' + id + '/cells?format=csv';
    drawStudy(rows);
  }

  /* A viridis-like ramp: t in [0, 1] to an rgb() string. */
  function ramp(t) {
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
    const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
    return 'rgb(' + c.join(',') + ')';
  }

  function drawStudy(rows) {
    if (state.plots.heat) {
      state.plots.heat.destroy();
      delete state.plots.heat;
    }
    const keys = rows.length ? Object.keys(rows[0].params) : [];
    const axisVals = keys.map((k) => [...new Set(rows.map((c) => c.params[k]))].sort((a, b) => a - b));
    const crit = rows.length ? rows[0].critical : null;
    const Ds = rows.map((c) => c.D);
    const dmin = Math.min(...Ds), dmax = Math.max(...Ds);
    // Cells with replicates get whiskers: mean ± std of D over them.
    const spread = rows.filter((c) => multi(c.spread));
    const box = $('#heatmap');
    box.dataset.errorbars = '0';
    // The whiskers' scale in a heat-map cell: bottom wlo, top whi.
    const wends = Ds.concat(spread.flatMap((c) => [c.spread.mean - c.spread.std, c.spread.mean + c.spread.std]))
      .filter((v) => Number.isFinite(v));
    const wlo = Math.min(...wends), whi = Math.max(...wends);
    const bars = spread.length
      ? '; whiskers: mean ± std of D over the replicates (n = ' +
        [...new Set(spread.map((c) => c.spread.n))].join(', ') + ')' +
        (keys.length > 1 ? ', drawn in each cell on a scale from its bottom (D = ' + fmt(wlo, 3) +
          ') to its top (D = ' + fmt(whi, 3) + ')' : '')
      : '';
    $('#heat-legend').textContent = keys.length
      ? 'D from ' + fmt(dmin, 3) + ' (dark) to ' + fmt(dmax, 3) + ' (light); ' +
        (crit === null ? 'no θc for this family' : 'white line: θ = θc = ' + fmt(crit, 4)) +
        '; rows ' + keys[0] + (keys[1] ? ', columns ' + keys[1] : '') + bars
      : 'no cells';
    drawCells(keys, rows, spread.length > 0);
    if (!keys.length) return;
    if (keys.length === 1) {
      // One parameter: D against it, theta_c as a vertical rule on theta;
      // whiskers mean ± std where a cell has replicates.
      const sorted = rows.slice().sort((a, b) => a.params[keys[0]] - b.params[keys[0]]);
      const ends = sorted.flatMap((c) => (multi(c.spread)
        ? [c.D, c.spread.mean - c.spread.std, c.spread.mean + c.spread.std] : [c.D]))
        .filter((v) => Number.isFinite(v));
      let lo = ends.length ? Math.min(...ends) : 0, hi = ends.length ? Math.max(...ends) : 1;
      const pad = hi > lo ? 0.08 * (hi - lo) : Math.max(0.05, Math.abs(hi) * 0.05);
      lo -= pad; hi += pad;
      state.plots.heat = new uPlot({
        width: plotWidth(), height: 280,
        scales: { x: { time: false }, y: spread.length ? { range: [lo, hi] } : {} },
        series: [{ label: keys[0] }, { label: 'D', stroke: '#1f5fbf', points: { show: true, size: 7 } }],
        axes: [{ label: keys[0] }, { label: 'D' }],
        hooks: {
          draw: [(u) => {
            const ctx = u.ctx, px = devicePixelRatio;
            let drawn = 0;
            ctx.save();
            clipPlot(u);
            ctx.beginPath();
            ctx.strokeStyle = '#b3261e';
            ctx.lineWidth = 1.5 * px;
            for (const c of sorted) {
              const sp = multi(c.spread);
              if (!sp) continue;
              const x = u.valToPos(c.params[keys[0]], 'x', true);
              whisker(ctx, x, u.valToPos(sp.mean - sp.std, 'y', true), u.valToPos(sp.mean + sp.std, 'y', true), 5 * px);
              // The mean: a short bar across the whisker.
              const ym = u.valToPos(sp.mean, 'y', true);
              ctx.moveTo(x - 3 * px, ym); ctx.lineTo(x + 3 * px, ym);
              drawn++;
            }
            ctx.stroke();
            ctx.restore();
            box.dataset.errorbars = String(drawn);
          }],
        },
      }, [sorted.map((c) => c.params[keys[0]]), sorted.map((c) => c.D)], box);
      return;
    }
    // Two parameters: cells in index space; rows = the first parameter.
    const [ry, cx] = [axisVals[0], axisVals[1]];
    // (the draw hooks below: theta_c, then the replicates' whiskers)
    const grid = new Map(rows.map((c) => [ry.indexOf(c.params[keys[0]]) + ',' + cx.indexOf(c.params[keys[1]]), c]));
    // uPlot wants sorted x: one point per column; the cells are drawn by paths().
    const xs = cx.map((_, j) => j), ys = cx.map(() => 0);
    const tick = (vals) => (u, splits) => splits.map((i) => (Number.isInteger(i) && vals[i] !== undefined ? fmt(vals[i], 3) : ''));
    const cellRect = (u, i, j) => {
      const x0 = u.valToPos(j - 0.5, 'x', true), x1 = u.valToPos(j + 0.5, 'x', true);
      const y0 = u.valToPos(i - 0.5, 'y', true), y1 = u.valToPos(i + 0.5, 'y', true);
      return [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
    };
    state.plots.heat = new uPlot({
      width: plotWidth(), height: Math.max(240, Math.min(600, 40 * ry.length + 80)),
      mode: 1,
      scales: { x: { time: false, range: [-0.5, cx.length - 0.5] }, y: { range: [-0.5, ry.length - 0.5] } },
      legend: { show: false },
      cursor: { show: false },
      series: [{}, {
        label: 'D', stroke: 'transparent', points: { show: false },
        // The cells: one rectangle each, coloured by D.
        paths: (u) => {
          const ctx = u.ctx;
          ctx.save();
          for (const c of grid.values()) {
            const r = cellRect(u, ry.indexOf(c.params[keys[0]]), cx.indexOf(c.params[keys[1]]));
            ctx.fillStyle = ramp(dmax > dmin ? (c.D - dmin) / (dmax - dmin) : 0.5);
            ctx.fillRect(r[0], r[1], r[2] + 0.5, r[3] + 0.5);
          }
          ctx.restore();
          return null;
        },
      }],
      axes: [{ label: keys[1], splits: () => cx.map((_, j) => j), values: tick(cx) },
        { label: keys[0], splits: () => ry.map((_, i) => i), values: tick(ry), size: 60 }],
      hooks: {
        // theta_c: the cell edges where theta - theta_c changes sign.
        draw: [(u) => {
          if (crit === null || crit === undefined) return;
          const ctx = u.ctx, side = (c) => c && (c.theta >= crit);
          ctx.save();
          ctx.strokeStyle = '#fff';
          ctx.lineWidth = 3 * devicePixelRatio;
          ctx.beginPath();
          for (let i = 0; i < ry.length; i++) {
            for (let j = 0; j < cx.length; j++) {
              const c = grid.get(i + ',' + j), r = cellRect(u, i, j);
              const right = grid.get(i + ',' + (j + 1)), up = grid.get((i + 1) + ',' + j);
              if (c && right && side(c) !== side(right)) { ctx.moveTo(r[0] + r[2], r[1]); ctx.lineTo(r[0] + r[2], r[1] + r[3]); }
              if (c && up && side(c) !== side(up)) {
                const yb = u.valToPos(i + 0.5, 'y', true);
                ctx.moveTo(r[0], yb); ctx.lineTo(r[0] + r[2], yb);
              }
            }
          }
          ctx.stroke();
          ctx.restore();
        }, (u) => {
          // Replicates: in each cell a whisker mean ± std on a scale from
          // the cell's bottom edge (wlo) to its top edge (whi).
          const ctx = u.ctx, px = devicePixelRatio;
          let drawn = 0;
          ctx.save();
          for (const c of grid.values()) {
            const sp = multi(c.spread);
            if (!sp) continue;
            const r = cellRect(u, ry.indexOf(c.params[keys[0]]), cx.indexOf(c.params[keys[1]]));
            const at = (v) => {
              const t = whi > wlo ? (v - wlo) / (whi - wlo) : 0.5;
              return r[1] + r[3] * (1 - 0.1 - 0.8 * Math.max(0, Math.min(1, t)));
            };
            const x = r[0] + r[2] / 2, w = Math.min(6 * px, r[2] / 4);
            ctx.beginPath();
            // Dark ink on the light end of the ramp, white on the dark end.
            ctx.strokeStyle = (dmax > dmin ? (c.D - dmin) / (dmax - dmin) : 0.5) > 0.6 ? '#000' : '#fff';
            ctx.lineWidth = 1.5 * px;
            whisker(ctx, x, at(sp.mean - sp.std), at(sp.mean + sp.std), w);
            ctx.moveTo(x - w / 2, at(sp.mean)); ctx.lineTo(x + w / 2, at(sp.mean));
            ctx.stroke();
            drawn++;
          }
          ctx.restore();
          box.dataset.errorbars = String(drawn);
        }],
      },
    }, [xs, ys], box);
  }

  /* The cells as a table, with replicates only: parameters, theta, D of
   * replicate 0 ± its stderr, and the spread. */
  function drawCells(keys, rows, any) {
    $('#cells-box').hidden = !any;
    const head = $('#cells thead'), body = $('#cells tbody');
    head.replaceChildren();
    body.replaceChildren();
    if (!any) return;
    const th = document.createElement('tr');
    for (const t of [...keys, 'θ', 'D (rep. 0) ± stderr', 'mean ± std', 'n', 'min..max', 'fractal'])
      th.append(Object.assign(document.createElement('th'), { textContent: t }));
    head.append(th);
    const sorted = rows.slice().sort((a, b) => a.index - b.index);
    for (const c of sorted) {
      const sp = c.spread || { n: 1 }, tr = document.createElement('tr');
      tr.dataset.index = c.index;
      const cells = [...keys.map((k) => fmt(c.params[k], 4)), fmt(c.theta, 4),
        fmt(c.D, 4) + ' ± ' + fmt(c.stderr, 2),
        sp.n > 1 ? fmt(sp.mean, 4) + ' ± ' + fmt(sp.std, 2) : '–', String(sp.n),
        sp.n > 1 ? fmt(sp.min, 4) + '..' + fmt(sp.max, 4) : '–',
        (c.fractal ? 'yes' : 'no') + (sp.n > 1 ? ' (' + sp.fractal_replicates + ' of ' + sp.n + ')' : '')];
      cells.forEach((t, k) => {
        const td = document.createElement('td');
        td.textContent = t;
        if (k === keys.length + 2) td.className = 'spread';
        tr.append(td);
      });
      body.append(tr);
    }
  }

  function drawFacts(r) {
    const rows = [
      ['points', r.points],
      ['divergent fraction', fmt(r.divergent_fraction, 4)],
      ['transitions B(K)', r.boundary && r.boundary.transitions],
      ['first divergent lr', r.boundary && fmt(r.boundary.first_divergent_lr, 8)],
      ['roughness θ', r.roughness && fmt(r.roughness.theta, 4)],
      ['critical θc', r.roughness && (r.roughness.critical === null ? 'none (multiplicative)' : fmt(r.roughness.critical, 4))],
      ['convex', r.roughness && (r.roughness.convex ? 'yes' : 'no')],
      ['engine', r.engine && (r.engine.precision + ' (' + r.engine.isa + ')')],
      ['optimizer', r.spec && r.spec.optimizer && Object.entries(r.spec.optimizer)
        .map(([k, v]) => k === 'name' ? v : k + ' ' + v).join(', ')],
      ['fit warnings', r.dimension && r.dimension.warnings && (r.dimension.warnings.join('; ') || 'none')],
      ['replicates', r.dimension && (multi(r.dimension.spread)
        ? r.dimension.spread.n + ' (D from ' + fmt(r.dimension.spread.min, 5) + ' to ' +
          fmt(r.dimension.spread.max, 5) + ')' : '1')],
      ['elapsed', fmt(r.elapsed_s, 3) + ' s'],
    ];
    const dl = $('#facts');
    dl.replaceChildren();
    for (const [k, v] of rows) {
      const dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v === undefined ? '–' : v;
      dl.append(dt, dd);
    }
  }

  $('#strip-reset').addEventListener('click', () => {
    if (state.labels) drawStrip(0, state.labels.length);
  });

  $('#refit').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = state.selected;
    const q = new URLSearchParams({ min_level: $('#fit-min').value.trim(), max_level: $('#fit-max').value.trim() });
    const r = await fetchJSON('/v1/jobs/' + id + '/dimension?' + q);
    if (r.status === 200) {
      $('#refit-error').textContent = '';
      drawDimension(r.body);
    } else {
      $('#refit-error').textContent = (r.body && r.body.detail) || 'refit failed (' + r.status + ')';
    }
  });

  $('#d-cancel').addEventListener('click', async () => {
    if (state.selected) await fetchJSON('/v1/jobs/' + state.selected + '/cancel', { method: 'POST' });
  });

  /* ---- the submit form ------------------------------------------------- */

  const form = $('#submit');
  let base = {};

  function getPath(o, path) {
    return path.split('.').reduce((a, k) => (a && typeof a === 'object' ? a[k] : undefined), o);
  }

  function setPath(o, path, v) {
    const ks = path.split('.');
    let a = o;
    for (const k of ks.slice(0, -1)) {
      if (!a[k] || typeof a[k] !== 'object') a[k] = {};
      a = a[k];
    }
    if (v === undefined) delete a[ks[ks.length - 1]];
    else a[ks[ks.length - 1]] = v;
  }

  function fields() {
    return Array.from(form.querySelectorAll('[data-pointer]'));
  }

  function fillForm(spec) {
    base = JSON.parse(JSON.stringify(spec));
    for (const el of fields()) {
      const v = getPath(spec, el.name);
      el.value = v === undefined ? '' : (typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    clearErrors();
  }

  /* A field's text as JSON where it parses (numbers, lists), else the text. */
  function value(el) {
    const t = el.value.trim();
    if (t === '') return undefined;
    if (el.tagName === 'SELECT' || el.name === 'name') return t;
    try {
      return JSON.parse(t);
    } catch (e) {
      return t;
    }
  }

  function clearErrors() {
    form.querySelectorAll('.field-error').forEach((e) => e.remove());
    form.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
    $('#form-error').textContent = '';
  }

  function showErrors(problem) {
    const loose = [];
    for (const e of problem.errors || []) {
      let p = e.pointer || '', el = null;
      while (p && !(el = form.querySelector('[data-pointer="' + p + '"]'))) p = p.replace(/\/[^/]*$/, '');
      if (!el) {
        loose.push((e.pointer || '') + ': ' + e.detail);
        continue;
      }
      el.classList.add('invalid');
      const span = document.createElement('span');
      span.className = 'field-error';
      span.dataset.for = e.pointer;
      span.textContent = e.detail;
      el.after(span);
    }
    $('#form-error').textContent = loose.length ? loose.join('; ') :
      (problem.errors && problem.errors.length ? '' : problem.detail || 'the server refused the spec');
  }

  $('#preset').addEventListener('change', async (ev) => {
    if (!ev.target.value) return;
    const r = await fetchJSON('/web/examples/' + ev.target.value + '.json');
    if (r.status === 200) fillForm(r.body);
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const spec = JSON.parse(JSON.stringify(base));
    for (const el of fields()) setPath(spec, el.name, value(el));
    for (const k of ['model', 'divergence', 'lr', 'fit', 'optimizer'])
      if (spec[k] && Object.keys(spec[k]).length === 0) delete spec[k];
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Math.random()).slice(2);
    const r = await fetchJSON('/v1/jobs', {
      method: 'POST', body: JSON.stringify(spec),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
    });
    if (r.status === 202 || r.status === 200) {
      showJob(r.body);
      $('#jobs tbody').prepend(renderRow(r.body));
      select(r.body.id);
    } else if (r.body) {
      showErrors(r.body);
    } else {
      $('#form-error').textContent = 'the server answered ' + r.status;
    }
  });

  // Downloads: with a token, a plain link would be refused (401), so fetch
  // the bytes with the header and save them from an object URL.
  for (const sel of ['#d-png', '#d-npy', '#d-cnpy', '#d-csv']) {
    $(sel).addEventListener('click', async (ev) => {
      const a = ev.currentTarget;
      if (!token() || a.dataset.blob) return;
      ev.preventDefault();
      const url = await blobURL(a.getAttribute('href'));
      const tmp = document.createElement('a');
      tmp.href = url;
      tmp.download = a.getAttribute('download') || a.getAttribute('href').split('/').pop();
      tmp.dataset.blob = '1';
      document.body.append(tmp);
      tmp.click();
      tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
  }

  // The token field: kept in sessionStorage for this tab, sent as a bearer
  // token on every request (the list picks it up at its next poll).
  $('#token').value = token();
  $('#token').addEventListener('change', (ev) => {
    const t = ev.target.value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
    $('#conn').textContent = '';
    if (state.selected) select(state.selected);
  });

  window.addEventListener('resize', () => {
    for (const p of Object.values(state.plots)) p.setSize({ width: plotWidth(), height: p.height });
  });

  window.trainbound = state; // for the browser tests and the console
  pollList();
  const m = /^#job=(\d+)$/.exec(location.hash);
  if (m) select(+m[1]);
})();
