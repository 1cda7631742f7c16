// Draws the report's charts from the JSON block #fl-data. Operations go on
// canvases (fast at 100,000 points); nemesis bands, axes and labels go in
// SVG overlays. Text from the history is only ever set with textContent.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('fl-data').textContent);
  var N = D.s.length;
  var COL = ['#2e9e44', '#d64541', '#e8a317'];
  var FAULT = {partition: '#5b6ee1', kill: '#c0392b', slow: '#8e44ad', link: '#8e44ad', pause: '#16a085', clock: '#d35400', 'power-loss': '#7b241c', recover: '#7f8c8d'};
  var NS = 'http://www.w3.org/2000/svg';
  var LEFT = 56, RIGHT = 12;
  var end = Math.max(D.end, 1);
  var view = [0, end];
  var charts = [];
  var tip = document.getElementById('tip');

  // Per-lane operation lists, in start order, for hit-testing.
  var laneOps = D.lanes.map(function () { return []; });
  var maxDur = 1, minDur = Infinity;
  for (var i = 0; i < N; i++) {
    laneOps[D.lane[i]].push(i);
    if (D.d[i] >= 0) { maxDur = Math.max(maxDur, D.d[i]); if (D.d[i] > 0) minDur = Math.min(minDur, D.d[i]); }
  }
  if (!isFinite(minDur)) minDur = 1;
  // Faults that overlap in time get their own label rows on the timeline.
  var rowEnd = [];
  D.faults.forEach(function (f) {
    var r = 0;
    while (r < rowEnd.length && rowEnd[r] > f.s) r++;
    rowEnd[r] = Math.max(f.e, f.s + 1);
    f.row = r;
  });
  var TOP = 6 + Math.max(1, rowEnd.length) * 12;

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function faultColor(name) { return FAULT[name] || '#34495e'; }
  function fmtT(us) { return (us / 1e6).toFixed(us < 1e7 ? 3 : 1) + ' s'; }
  function fmtD(us) { return us >= 1e6 ? (us / 1e6).toFixed(2) + ' s' : us >= 1e3 ? (us / 1e3).toFixed(1) + ' ms' : us + ' µs'; }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    var m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  // chart makes a canvas with an SVG overlay. draw(ctx, c) paints the canvas;
  // overlay(g, c) adds SVG for the y axis.
  function chart(id, height, draw, overlay) {
    var box = document.getElementById(id);
    if (!box) return;
    var cv = document.createElement('canvas');
    var ov = svg('svg', {'class': 'overlay'});
    box.style.height = height + 'px';
    box.appendChild(cv);
    box.appendChild(ov);
    var c = {box: box, cv: cv, ov: ov, h: height, plotH: height - 18, draw: draw, overlay: overlay};
    c.x = function (t) { return LEFT + (t - view[0]) / (view[1] - view[0]) * (c.w - LEFT - RIGHT); };
    c.t = function (px) { return view[0] + (px - LEFT) / (c.w - LEFT - RIGHT) * (view[1] - view[0]); };
    var drag = null, sel = null;
    // Positions relative to the chart box: offsetX would be relative to
    // whichever SVG shape is under the pointer.
    c.pos = function (ev) { var r = box.getBoundingClientRect(); return {x: ev.clientX - r.left, y: ev.clientY - r.top}; };
    box.addEventListener('mousedown', function (ev) {
      drag = c.pos(ev).x;
      sel = svg('rect', {'class': 'selection', x: drag, y: 0, width: 0, height: c.plotH, fill: 'rgba(36,86,200,.15)'}, ov);
    });
    box.addEventListener('mousemove', function (ev) {
      if (drag !== null && sel) {
        var x = c.pos(ev).x;
        sel.setAttribute('x', Math.min(drag, x));
        sel.setAttribute('width', Math.abs(x - drag));
      }
      if (c.hover) c.hover(ev);
    });
    box.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
    window.addEventListener('mouseup', function (ev) {
      if (drag === null) return;
      var r = box.getBoundingClientRect();
      var x2 = ev.clientX - r.left;
      if (Math.abs(x2 - drag) > 5) setView(c.t(Math.min(drag, x2)), c.t(Math.max(drag, x2)));
      drag = null;
      if (sel && sel.parentNode) sel.parentNode.removeChild(sel);
      sel = null;
    });
    charts.push(c);
    return c;
  }

  function render(c) {
    var w = c.box.clientWidth, dpr = window.devicePixelRatio || 1;
    c.w = w;
    c.cv.width = w * dpr; c.cv.height = c.h * dpr;
    c.cv.style.width = w + 'px'; c.cv.style.height = c.h + 'px';
    c.ov.setAttribute('width', w); c.ov.setAttribute('height', c.h);
    var ctx = c.cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, c.h);
    ctx.save();
    ctx.beginPath(); ctx.rect(LEFT, 0, w - LEFT - RIGHT, c.plotH); ctx.clip();
    c.draw(ctx, c);
    ctx.restore();
    while (c.ov.firstChild) c.ov.removeChild(c.ov.firstChild);
    shade(c);
    timeAxis(c);
    if (c.overlay) c.overlay(c.ov, c);
  }

  // shade draws every nemesis interval in view as a band across the chart;
  // the timeline also labels them.
  function shade(c) {
    var g = svg('g', {'class': 'nemesis-layer'}, c.ov);
    D.faults.forEach(function (f) {
      if (f.e < view[0] || f.s > view[1]) return;
      var x1 = Math.max(LEFT, c.x(f.s)), x2 = Math.min(c.w - RIGHT, c.x(f.e));
      var col = faultColor(f.name);
      var el;
      if (f.instant) {
        el = svg('line', {'class': 'nemesis', x1: x1, x2: x1, y1: 0, y2: c.plotH, stroke: col, 'stroke-width': 2, 'data-fault': f.name}, g);
      } else {
        el = svg('rect', {'class': 'nemesis', x: x1, y: 0, width: Math.max(1, x2 - x1), height: c.plotH,
          fill: col, 'fill-opacity': 0.13, stroke: col, 'stroke-opacity': 0.5, 'data-fault': f.name}, g);
      }
      var t = svg('title', {}, el);
      t.textContent = f.label + ' (' + fmtT(f.s) + ' – ' + fmtT(f.e) + ')';
      if (c.labels) {
        // Cut to the band's width (about 6.5 px a character), so labels
        // of neighbouring faults never run into each other.
        var room = f.instant ? 120 : x2 - x1 - 6, fit = Math.floor(room / 6.5);
        var text = f.label.length <= fit ? f.label : f.label.slice(0, fit - 1) + '…';
        if (fit >= 2) {
          var lb = svg('text', {'class': 'nemesis-label', x: x1 + 3, y: 11 + f.row * 12, fill: col, 'font-size': 11, 'font-weight': 600}, g);
          lb.textContent = text;
        }
      }
    });
  }

  function timeAxis(c) {
    var span = view[1] - view[0];
    var step = niceStep(span / Math.max(2, (c.w - LEFT) / 90));
    var g = svg('g', {'class': 'axis', 'font-size': 10, fill: '#667085'}, c.ov);
    svg('line', {x1: LEFT, x2: c.w - RIGHT, y1: c.plotH + 0.5, y2: c.plotH + 0.5, stroke: '#c5cad3'}, g);
    for (var t = Math.ceil(view[0] / step) * step; t <= view[1]; t += step) {
      var x = c.x(t);
      svg('line', {x1: x, x2: x, y1: c.plotH, y2: c.plotH + 4, stroke: '#c5cad3'}, g);
      var tx = svg('text', {x: x, y: c.plotH + 15, 'text-anchor': 'middle'}, g);
      tx.textContent = step >= 1e6 ? (t / 1e6) + ' s' : (t / 1e3).toFixed(step >= 1e3 ? 0 : 1) + ' ms';
    }
  }

  function yLabel(g, y, text) {
    var t = svg('text', {x: LEFT - 4, y: y + 3, 'text-anchor': 'end', 'font-size': 10, fill: '#667085'}, g);
    t.textContent = text;
    svg('line', {x1: LEFT, x2: LEFT + 4, y1: y, y2: y, stroke: '#c5cad3'}, g);
  }

  // Timeline: one lane per client process.
  var lanes = D.lanes.length;
  var laneH = Math.max(3, Math.min(16, Math.floor(420 / Math.max(1, lanes))));
  var tl = chart('fl-timeline', lanes * laneH + TOP + 4 + 18, function (ctx, c) {
    var top = TOP, sx = (c.w - LEFT - RIGHT) / (view[1] - view[0]);
    var pad = laneH > 4 ? 1 : 0, bh = Math.max(1, laneH - 2 * pad);
    // Operations narrower than 2 px are counted per lane and pixel column
    // and drawn as that column's mix of outcomes, so a zoomed-out view
    // shows how many failed, not just that one did.
    var cols = Math.ceil(c.w), bins = new Uint32Array(lanes * cols * 3);
    for (var o = 0; o < 3; o++) {
      ctx.fillStyle = COL[o];
      for (var i = 0; i < N; i++) {
        if (D.o[i] !== o) continue;
        var s = D.s[i], e = D.d[i] < 0 ? end : s + D.d[i];
        if (e < view[0] || s > view[1]) continue;
        var x1 = LEFT + (s - view[0]) * sx, x2 = LEFT + (e - view[0]) * sx;
        if (x2 - x1 < 2) {
          var col = Math.min(cols - 1, Math.max(0, Math.floor(x1)));
          bins[(D.lane[i] * cols + col) * 3 + o]++;
          continue;
        }
        ctx.globalAlpha = D.d[i] < 0 ? 0.4 : 1;
        ctx.fillRect(x1, top + D.lane[i] * laneH + pad, x2 - x1, bh);
      }
    }
    ctx.globalAlpha = 1;
    for (var l = 0; l < lanes; l++) {
      for (var x = 0; x < cols; x++) {
        var k = (l * cols + x) * 3, n = bins[k] + bins[k + 1] + bins[k + 2];
        if (!n) continue;
        var y = top + l * laneH + pad;
        for (var q = 0; q < 3; q++) {
          if (!bins[k + q]) continue;
          var h = Math.max(1, bins[k + q] / n * bh);
          ctx.fillStyle = COL[q];
          ctx.fillRect(x, y, 1, h);
          y += h;
        }
      }
    }
  }, function (g, c) {
    if (!lanes) return;
    // Operations an anomaly points at, outlined; hover for what it is.
    D.marks.forEach(function (m) {
      var i = m.op, s = D.s[i], e = D.d[i] < 0 ? end : s + D.d[i];
      if (e < view[0] || s > view[1]) return;
      var x1 = c.x(Math.max(s, view[0])), x2 = c.x(Math.min(e, view[1]));
      var el = svg('rect', {'class': 'anomaly-mark', x: x1 - 2, y: TOP + D.lane[i] * laneH - 1, width: Math.max(4, x2 - x1 + 4), height: laneH + 1,
        fill: 'none', stroke: '#1d2330', 'stroke-width': 1.5}, g);
      svg('title', {}, el).textContent = m.what;
    });
    // A lane reused by later processes says how many: "p3 +4".
    function name(l) { return 'p' + D.lanes[l] + (D.lane_procs[l] > 1 ? ' +' + (D.lane_procs[l] - 1) : ''); }
    if (laneH < 9) { yLabel(g, TOP + laneH, name(0)); yLabel(g, TOP + lanes * laneH - 2, name(lanes - 1)); return; }
    var every = Math.ceil(12 / laneH);
    for (var l = 0; l < lanes; l += every) yLabel(g, TOP + l * laneH + laneH / 2, name(l));
  });
  if (tl) {
    tl.labels = true;
    tl.hover = function (ev) {
      var p = tl.pos(ev), l = Math.floor((p.y - TOP) / laneH);
      if (l < 0 || l >= lanes || p.x < LEFT) { tip.style.display = 'none'; return; }
      var t = tl.t(p.x), tol = 3 * (view[1] - view[0]) / (tl.w - LEFT - RIGHT);
      var list = laneOps[l], lo = 0, hi = list.length - 1, found = -1;
      while (lo <= hi) { var m = (lo + hi) >> 1; if (D.s[list[m]] <= t + tol) { found = m; lo = m + 1; } else hi = m - 1; }
      var hit = -1;
      for (var k = found; k >= 0 && k > found - 3; k--) {
        var i = list[k], e = D.d[i] < 0 ? end : D.s[i] + D.d[i];
        if (e >= t - tol) { hit = i; break; }
      }
      if (hit < 0) { tip.style.display = 'none'; return; }
      var outcome = ['ok', 'fail', 'info'][D.o[hit]];
      var txt = 'process ' + D.p[hit] + ': ' + D.strs[D.f[hit]] + ' ' + D.strs[D.k[hit]] + ' ' + D.strs[D.v[hit]] +
        '\n' + outcome + (D.d[hit] < 0 ? ' (never completed)' : ' after ' + fmtD(D.d[hit])) + (D.strs[D.n[hit]] ? ' on ' + D.strs[D.n[hit]] : '') +
        '\ninvoked at ' + fmtT(D.s[hit]) + (D.e[hit] >= 0 ? '\nerror: ' + D.strs[D.e[hit]] : '');
      tip.textContent = txt;
      tip.style.display = 'block';
      tip.style.left = (ev.clientX + 12) + 'px';
      tip.style.top = (ev.clientY + 12) + 'px';
    };
  }

  // Latency of each completed operation, log scale.
  var lmin = Math.log10(Math.max(1, minDur)), lmax = Math.log10(maxDur) + 0.05;
  if (lmax - lmin < 1) lmin = lmax - 1;
  chart('fl-latency', 240, function (ctx, c) {
    var sx = (c.w - LEFT - RIGHT) / (view[1] - view[0]), h = c.plotH - 4;
    var order = [0, 1, 2];
    order.forEach(function (o) {
      ctx.fillStyle = COL[o];
      for (var i = 0; i < N; i++) {
        if (D.o[i] !== o || D.d[i] < 0) continue;
        var t = D.s[i] + D.d[i];
        if (t < view[0] || t > view[1]) continue;
        var y = 2 + h - (Math.log10(Math.max(1, D.d[i])) - lmin) / (lmax - lmin) * h;
        ctx.fillRect(LEFT + (t - view[0]) * sx - 1, y - 1, 2, 2);
      }
    });
  }, function (g, c) {
    var h = c.plotH - 4;
    for (var p = Math.ceil(lmin); p <= lmax; p++) yLabel(g, 2 + h - (p - lmin) / (lmax - lmin) * h, fmtD(Math.pow(10, p)));
  });

  // Completions per bin, by outcome, and the fraction that succeeded.
  function bins() {
    var span = view[1] - view[0];
    var step = span >= 20e6 ? Math.max(1e6, niceStep(span / 300)) : Math.max(1e3, niceStep(span / 60));
    var first = Math.floor(view[0] / step) * step, n = Math.ceil((view[1] - first) / step) + 1;
    var b = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    for (var i = 0; i < N; i++) {
      if (D.d[i] < 0) continue;
      var t = D.s[i] + D.d[i];
      if (t < first || t > view[1]) continue;
      b[D.o[i]][Math.floor((t - first) / step)]++;
    }
    return {step: step, first: first, n: n, b: b};
  }
  var cur = null;
  function binLabel() {
    var s = document.querySelectorAll('.fl-bin');
    for (var i = 0; i < s.length; i++) s[i].textContent = fmtD(cur.step);
  }
  var tpMax = 1;
  chart('fl-throughput', 170, function (ctx, c) {
    cur = bins();
    binLabel();
    tpMax = 1;
    for (var k = 0; k < cur.n; k++) tpMax = Math.max(tpMax, (cur.b[0][k] + cur.b[1][k] + cur.b[2][k]) / (cur.step / 1e6));
    var h = c.plotH - 4;
    for (var k2 = 0; k2 < cur.n; k2++) {
      var x1 = c.x(cur.first + k2 * cur.step), x2 = c.x(cur.first + (k2 + 1) * cur.step), base = 2 + h;
      for (var o = 0; o < 3; o++) {
        var v = cur.b[o][k2] / (cur.step / 1e6) / tpMax * h;
        if (v <= 0) continue;
        ctx.fillStyle = COL[o];
        ctx.fillRect(x1, base - v, Math.max(1, x2 - x1 - (x2 - x1 > 3 ? 1 : 0)), v);
        base -= v;
      }
    }
  }, function (g, c) {
    var h = c.plotH - 4, step = niceStep(tpMax / 4);
    for (var v = 0; v <= tpMax; v += step) yLabel(g, 2 + h - v / tpMax * h, String(v));
  });
  chart('fl-availability', 150, function (ctx, c) {
    if (!cur) cur = bins();
    var h = c.plotH - 4;
    ctx.strokeStyle = '#2456c8'; ctx.lineWidth = 1.5;
    ctx.beginPath();
    var pen = false;
    for (var k = 0; k < cur.n; k++) {
      var tot = cur.b[0][k] + cur.b[1][k] + cur.b[2][k];
      var x1 = c.x(cur.first + k * cur.step), x2 = c.x(cur.first + (k + 1) * cur.step);
      if (!tot) {
        ctx.fillStyle = 'rgba(214,69,65,.25)';
        if (cur.first + k * cur.step < end) ctx.fillRect(x1, 2, Math.max(1, x2 - x1), h);
        pen = false;
        continue;
      }
      var y = 2 + h - cur.b[0][k] / tot * h;
      if (pen) ctx.lineTo(x1, y); else ctx.moveTo(x1, y);
      ctx.lineTo(x2, y);
      pen = true;
    }
    ctx.stroke();
  }, function (g) {
    var h = 150 - 18 - 4;
    [0, 0.5, 1].forEach(function (v) { yLabel(g, 2 + h - v * h, (v * 100) + '%'); });
  });

  function redraw() {
    cur = null;
    charts.forEach(render);
    var r = document.getElementById('fl-range');
    if (r) r.textContent = fmtT(view[0]) + ' – ' + fmtT(view[1]);
  }
  function setView(a, b) {
    if (b - a < 100) { var m = (a + b) / 2; a = m - 50; b = m + 50; }
    view = [Math.max(0, a), Math.min(end, b)];
    if (view[1] <= view[0]) view = [0, end];
    redraw();
  }
  function on(id, f) { var e = document.getElementById(id); if (e) e.addEventListener('click', f); }
  on('fl-all', function () { setView(0, end); });
  on('fl-out', function () { var w = view[1] - view[0]; setView(view[0] - w / 2, view[1] + w / 2); });
  on('fl-in', function () { var w = view[1] - view[0]; setView(view[0] + w / 4, view[1] - w / 4); });
  on('fl-prev', function () { var w = view[1] - view[0], a = Math.max(0, view[0] - w); setView(a, a + w); });
  on('fl-next', function () { var w = view[1] - view[0], b = Math.min(end, view[1] + w); setView(b - w, b); });
  var zs = document.querySelectorAll('[data-zoom-s]');
  for (var z = 0; z < zs.length; z++) {
    zs[z].addEventListener('click', function (ev) {
      var s = +ev.currentTarget.getAttribute('data-zoom-s') * 1e6, e = +ev.currentTarget.getAttribute('data-zoom-e') * 1e6;
      var pad = Math.max(5e5, (e - s) * 0.5);
      setView(s - pad, e + pad);
      document.getElementById('fl-charts').scrollIntoView();
      ev.preventDefault();
    });
  }
  redraw();
  var pending = 0;
  window.addEventListener('resize', function () { clearTimeout(pending); pending = setTimeout(redraw, 100); });
  document.body.setAttribute('data-rendered', 'yes');
})();
