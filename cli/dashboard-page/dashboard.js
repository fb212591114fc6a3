// The support wall: figures pushed by `pingstreams dashboard` over server-sent events, drawn with uPlot.
// The server computes everything once per second; the page only renders it (and counts waits up between updates).
(function () {
  'use strict';
  var MAX_POINTS = 1800;
  var $ = function (sel) {
    return document.querySelector(sel);
  };
  var metricEls = {};
  document.querySelectorAll('[data-metric]').forEach(function (el) {
    metricEls[el.getAttribute('data-metric')] = el;
  });

  var state = { connection: null, connectionAt: 0, stream: 'connecting', last: null, lastAt: 0 };
  var series = { t: [], queue: [], p50: [], p90: [], arrivals: [], connected: [] };
  var charts = {};

  function set(name, text) {
    var el = metricEls[name];
    if (el && el.textContent !== text) el.textContent = text;
  }

  function formatWait(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }

  function elapsed() {
    return state.last && state.stream === 'open' ? (Date.now() - state.lastAt) / 1000 : 0;
  }

  // ---- connection ---------------------------------------------------------------------------------
  function connectionText() {
    if (state.stream === 'unreachable') return ['server-unreachable', 'Dashboard server not reachable: retrying'];
    if (state.stream === 'refused')
      return ['stream-refused', 'The dashboard server refused this page: open the address it printed'];
    var c = state.connection;
    if (!c) return ['connecting', 'Connecting…'];
    var left =
      c.retryInSeconds === null
        ? null
        : Math.max(0, Math.ceil(c.retryInSeconds - (Date.now() - state.connectionAt) / 1000));
    switch (c.state) {
      case 'connected':
        return [
          'connected',
          state.last && state.last.confirming > 0
            ? 'Connected · confirming ' + state.last.confirming + ' requests'
            : 'Connected',
        ];
      case 'reconnecting':
        return [
          'reconnecting',
          left === null ? 'Reconnecting…' : left > 0 ? 'Reconnecting in ' + left + ' s' : 'Reconnecting…',
        ];
      case 'rate-limited':
        return [
          'rate-limited',
          left === null || left === 0 ? 'Rate limited: retrying' : 'Rate limited: retrying in ' + left + ' s',
        ];
      case 'token-refused':
        return ['token-refused', 'Token refused: set a valid PINGSTREAMS_TOKEN and restart'];
      case 'subscription-refused':
        return ['subscription-refused', 'No access to this project’s requests'];
      case 'failed':
        return ['failed', 'Connection failed'];
      default:
        return ['connecting', 'Connecting…'];
    }
  }

  function renderConnection() {
    var badge = $('#connection');
    var t = connectionText();
    if (badge.getAttribute('data-state') !== t[0]) badge.setAttribute('data-state', t[0]);
    if (badge.textContent !== t[1]) badge.textContent = t[1];
    var detail = state.connection && state.connection.message && t[0] !== 'connected' ? state.connection.message : '';
    badge.title = detail;
    document.body.classList.toggle('stale', t[0] !== 'connected');
  }

  // ---- figures ------------------------------------------------------------------------------------
  function renderFigures() {
    var v = state.last;
    if (!v) return;
    var extra = elapsed();
    set('queue', String(v.queue));
    set('open', String(v.open));
    set('longest-wait', formatWait(v.longestWaitSeconds === null ? null : v.longestWaitSeconds + extra));
    var sl = v.serviceLevel.percent;
    set('service-level', sl === null ? '–' : sl.toFixed(1).replace(/\.0$/, '') + '%');
    metricEls['service-level'].className =
      'big' + (sl === null ? '' : sl >= 80 ? ' good' : sl >= 60 ? ' warn' : ' bad');
    $('#sl-fill').style.width = (sl === null ? 0 : Math.min(100, sl)) + '%';
    set('threshold', formatWait(v.serviceLevel.thresholdSeconds));
    set('arrivals-minute', String(v.point.arrivalsLastMinute));
    set('arrivals-hour', String(Math.round(v.window.arrivalsPerHour)));
    var a = v.agents;
    set('agents-online', String(a.available + a.busy));
    set('agents-available', String(a.available));
    set('agents-busy', String(a.busy));
    set('agents-unavailable', String(a.unavailable));
    var f = v.forecast;
    if (!f) {
      set('forecast-required', '–');
      set('forecast-detail', 'no forecast');
    } else if (f.error) {
      set('forecast-required', '–');
      set('forecast-detail', 'needs a closed request to measure the handle time');
      metricEls['forecast-detail'].title = f.error;
    } else {
      set('forecast-required', String(f.required));
      set(
        'forecast-detail',
        f.onLine +
          ' on line · ' +
          (f.shortfall === null ? 'target out of reach' : f.shortfall > 0 ? f.shortfall + ' short' : 'enough') +
          ' · ' +
          f.scheduled +
          ' scheduled',
      );
      metricEls['forecast-detail'].title = f.summary;
      metricEls['forecast-required'].className = 'big' + (f.shortfall === null || f.shortfall > 0 ? ' bad' : ' good');
    }
    if ($('#project').textContent !== v.projectId) $('#project').textContent = v.projectId;
    $('#updated').textContent = new Date(v.at).toLocaleTimeString();
    renderWaiting(v, extra);
    renderAgents(v);
    $('#footnote').textContent =
      'Window: last ' +
      formatWait(v.window.minutes * 60) +
      ' · ' +
      v.window.arrivals +
      ' arrivals, ' +
      v.window.closed +
      ' closed, ' +
      v.window.abandoned +
      ' abandoned.';
  }

  function row(tbody, index, cells) {
    var tr = tbody.children[index];
    if (!tr) {
      tr = document.createElement('tr');
      for (var i = 0; i < cells.length; i++) tr.appendChild(document.createElement('td'));
      tbody.appendChild(tr);
    }
    for (var j = 0; j < cells.length; j++) {
      var td = tr.children[j];
      if (td.textContent !== cells[j][0]) td.textContent = cells[j][0];
      if (td.className !== (cells[j][1] || '')) td.className = cells[j][1] || '';
    }
  }

  function trim(tbody, n) {
    while (tbody.children.length > n) tbody.removeChild(tbody.lastChild);
  }

  function renderWaiting(v, extra) {
    var tbody = $('#waiting tbody');
    v.waiting.forEach(function (w, i) {
      row(tbody, i, [[w.request], [w.department || '–'], [formatWait(w.waitSeconds + extra), 'num']]);
    });
    trim(tbody, v.waiting.length);
    $('#waiting-empty').hidden = v.waiting.length > 0;
    var count = v.queue > v.waiting.length ? '(' + v.waiting.length + ' of ' + v.queue + ')' : '';
    if ($('#waiting-count').textContent !== count) $('#waiting-count').textContent = count;
  }

  function renderAgents(v) {
    var tbody = $('#agents tbody');
    var names = { available: 'available', busy: 'busy', unavailable: 'away' };
    v.agents.list.forEach(function (a, i) {
      row(tbody, i, [
        [a.userId],
        [names[a.state], 'state-' + a.state],
        [a.capacity ? a.assigned + ' / ' + a.capacity : String(a.assigned), 'num'],
      ]);
    });
    trim(tbody, v.agents.list.length);
    $('#agents-empty').hidden = v.agents.list.length > 0;
  }

  // ---- charts -------------------------------------------------------------------------------------
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  /** Shades the spans during which the connection to Pingstreams was down. */
  function downBands(u) {
    var ctx = u.ctx;
    var xs = u.data[0];
    ctx.save();
    ctx.fillStyle = css('--down');
    for (var i = 0; i < xs.length; i++) {
      if (series.connected[i] !== 0) continue;
      var j = i;
      while (j + 1 < xs.length && series.connected[j + 1] === 0) j++;
      var x0 = u.valToPos(xs[Math.max(0, i - 1)], 'x', true);
      var x1 = u.valToPos(xs[Math.min(xs.length - 1, j + 1)], 'x', true);
      ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
      i = j;
    }
    ctx.restore();
  }

  function makeChart(el, lines) {
    var axis = {
      stroke: css('--muted'),
      grid: { stroke: css('--line'), width: 1 },
      ticks: { stroke: css('--line'), width: 1 },
    };
    var opts = {
      width: Math.max(200, el.clientWidth),
      height: Math.max(120, el.clientHeight - 30),
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      scales: {
        x: { time: true },
        y: {
          range: function (u, min, max) {
            return [0, Math.max(1, max * 1.15)];
          },
        },
      },
      axes: [axis, Object.assign({ size: 60 }, axis)],
      series: [{}].concat(
        lines.map(function (l) {
          return { label: l.label, stroke: css(l.color), width: 2, points: { show: false }, spanGaps: false };
        }),
      ),
      hooks: { drawClear: [downBands] },
    };
    return new uPlot(
      opts,
      [series.t].concat(
        lines.map(function (l) {
          return series[l.key];
        }),
      ),
      el,
    );
  }

  function buildCharts() {
    Object.keys(charts).forEach(function (k) {
      charts[k].chart.destroy();
    });
    charts = {
      wait: {
        el: $('#chart-wait'),
        lines: [
          { key: 'p50', label: 'p50', color: '--accent' },
          { key: 'p90', label: 'p90', color: '--p90' },
        ],
      },
      arrivals: {
        el: $('#chart-arrivals'),
        lines: [
          { key: 'arrivals', label: 'arrivals (last min)', color: '--accent' },
          { key: 'queue', label: 'queue', color: '--queue' },
        ],
      },
    };
    Object.keys(charts).forEach(function (k) {
      charts[k].chart = makeChart(charts[k].el, charts[k].lines);
    });
  }

  function redraw() {
    Object.keys(charts).forEach(function (k) {
      var c = charts[k];
      c.chart.setData(
        [series.t].concat(
          c.lines.map(function (l) {
            return series[l.key];
          }),
        ),
      );
    });
  }

  function addPoint(p) {
    series.t.push(p.t);
    series.queue.push(p.queue);
    series.p50.push(p.p50);
    series.p90.push(p.p90);
    series.arrivals.push(p.arrivalsLastMinute);
    series.connected.push(p.connected);
    if (series.t.length > MAX_POINTS)
      Object.keys(series).forEach(function (k) {
        series[k].splice(0, series[k].length - MAX_POINTS);
      });
  }

  function setHistory(h) {
    series = {
      t: h.t.slice(),
      queue: h.queue.slice(),
      p50: h.p50.slice(),
      p90: h.p90.slice(),
      arrivals: h.arrivalsLastMinute.slice(),
      connected: h.connected.slice(),
    };
  }

  var resizeTimer;
  var resizer = new ResizeObserver(function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(charts).forEach(function (k) {
        var c = charts[k];
        c.chart.setSize({ width: Math.max(200, c.el.clientWidth), height: Math.max(120, c.el.clientHeight - 30) });
      });
    }, 100);
  });

  // ---- the stream ---------------------------------------------------------------------------------
  var source;
  function connect() {
    source = new EventSource('/events');
    source.onopen = function () {
      state.stream = 'open';
      renderConnection();
    };
    source.onerror = function () {
      // EventSource retries by itself after a network error (the CLI restarting); not after an HTTP refusal.
      if (source.readyState === EventSource.CLOSED) {
        state.stream = 'refused';
        setTimeout(connect, 5000);
      } else {
        state.stream = 'unreachable';
      }
      renderConnection();
    };
    source.addEventListener('state', function (e) {
      state.connection = JSON.parse(e.data);
      state.connectionAt = Date.now();
      renderConnection();
    });
    source.addEventListener('history', function (e) {
      setHistory(JSON.parse(e.data));
      redraw();
    });
    source.addEventListener('metrics', function (e) {
      var v = JSON.parse(e.data);
      state.last = v;
      state.lastAt = Date.now();
      if (!series.t.length || series.t[series.t.length - 1] < v.point.t) addPoint(v.point);
      renderFigures();
      renderConnection();
      redraw();
    });
  }

  buildCharts();
  Object.keys(charts).forEach(function (k) {
    resizer.observe(charts[k].el);
  });
  // The charts take their colours from the page: draw them again when the system switches light / dark.
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', function () {
    buildCharts();
  });
  // Waits keep growing between updates, and the reconnect countdown runs down.
  setInterval(function () {
    renderConnection();
    if (state.last) {
      var extra = elapsed();
      set(
        'longest-wait',
        formatWait(state.last.longestWaitSeconds === null ? null : state.last.longestWaitSeconds + extra),
      );
    }
  }, 1000);
  connect();
})();
