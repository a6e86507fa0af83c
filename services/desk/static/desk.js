// wirestream desk: draws the charts and refreshes the pipeline page. Everything it shows
// comes from this origin's /api/ (or the server-rendered page) and is set as text or
// numbers, never as HTML built from data.
(function () {
  "use strict";
  var PALETTE = ["#1f5fbf", "#d9485f", "#16a34a", "#b45309", "#9333ea", "#0891b2", "#be185d", "#4b5563"];

  function chart(el, stamps, series, opts) {
    if (!window.uPlot || !el) return null;
    el.textContent = "";
    var bars = opts && opts.bars;
    var spec = {
      width: Math.max(300, el.clientWidth), height: 190,
      legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [{}, { size: 44, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000] }],
      series: [{}].concat(series.map(function (s, i) {
        var colour = PALETTE[i % PALETTE.length];
        var one = { label: s.label, stroke: colour, width: 2, points: { show: !bars, size: 6, fill: colour } };
        if (bars) { one.fill = colour + "99"; one.paths = uPlot.paths.bars({ size: [0.8, 40] }); }
        return one;
      }))
    };
    return new uPlot(spec, [stamps].concat(series.map(function (s) { return s.values; })), el);
  }

  function seconds(iso) { return Date.parse(iso) / 1000; }

  function note(el, text) {
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "hint";
    p.textContent = text;
    el.appendChild(p);
  }

  // Search page: attention over time for the current query (same parameters as the page URL).
  var attention = document.getElementById("attention");
  if (attention) {
    fetch("/api/histogram" + window.location.search, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { note(attention, data.error.reason); return; }
        if (!data.buckets || !data.buckets.length) { note(attention, "No stories to chart."); return; }
        var stamps = data.buckets.map(function (b) { return seconds(b.t); });
        var series;
        if (attention.dataset.split === "lang" && data.languages.length) {
          series = data.languages.map(function (lang) {
            return { label: lang, values: data.buckets.map(function (b) { return (b.by_lang || {})[lang] || 0; }) };
          });
        } else {
          series = [{ label: "stories per " + data.interval, values: data.buckets.map(function (b) { return b.count; }) }];
        }
        chart(attention, stamps, series, { bars: series.length === 1 });
        attention.dataset.drawn = "1";
      })
      .catch(function () { note(attention, "The chart could not be loaded."); });
  }

  // Pipeline page: the chart of stories indexed per minute, and a live refresh of the page.
  function drawIndexed() {
    var el = document.getElementById("indexed-chart");
    if (!el) return;
    fetch("/api/pipeline", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var points = data.indexed_per_minute || [];
        if (!points.length) { note(el, data.elasticsearch && data.elasticsearch.error || "Nothing indexed in the last hour."); return; }
        chart(el, points.map(function (p) { return seconds(p.t); }),
              [{ label: "stories indexed per minute", values: points.map(function (p) { return p.count; }) }], { bars: true });
        el.dataset.drawn = "1";
      })
      .catch(function () { note(el, "The chart could not be loaded."); });
  }

  var live = document.getElementById("live");
  if (live) {
    drawIndexed();
    var every = (parseInt(live.dataset.refresh, 10) || 5) * 1000;
    window.setInterval(function () {
      if (document.hidden) return;
      fetch("/pipeline", { headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          // The server-rendered page again (escaped there); DOMParser documents run no scripts.
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (!fresh) return;
          live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
          drawIndexed();
        })
        .catch(function () { /* keep the last good view; the next round tries again */ });
    }, every);
  }

  // Story page: "← search" goes back to the results (with their URL) when we came from them.
  var back = document.querySelector("a[data-back]");
  if (back && document.referrer) {
    try {
      var from = new URL(document.referrer);
      if (from.origin === window.location.origin && from.pathname === "/") back.href = from.pathname + from.search;
    } catch (e) { /* keep the plain link */ }
  }
})();
