// Marketing page: the segment builder (live count, save) and its ECharts.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }

  function condition(row) {
    var kind = row.querySelector(".mk-kind").value;
    var op = row.querySelector(".mk-op").value;
    var value = Number(row.querySelector(".mk-value").value);
    var key = row.querySelector(".mk-key").value.trim();
    if (kind === "field") return { field: row.querySelector(".mk-field").value, op: op, value: value };
    if (kind === "affinity") return { affinity: row.querySelector(".mk-affinity").value, key: key, op: op, value: value };
    if (kind === "tag") return { tag: key };
    return { anchor_id: Number(key), op: op, value: value };
  }

  function rule() {
    var combinator = document.getElementById("mk-combinator").value;
    var out = {};
    out[combinator] = Array.prototype.map.call(document.querySelectorAll("#mk-conditions .mk-condition"), condition);
    return out;
  }

  function showKinds(row) {
    var kind = row.querySelector(".mk-kind").value;
    row.querySelector(".mk-field").hidden = kind !== "field";
    row.querySelector(".mk-affinity").hidden = kind !== "affinity";
    row.querySelector(".mk-key").hidden = kind === "field";
    row.querySelector(".mk-op").hidden = kind === "tag";
    row.querySelector(".mk-value").hidden = kind === "tag";
  }

  var pending = 0;
  function recount() {
    var mine = ++pending;
    post("/api/v1/marketing/segments/count", { rule: rule() }).then(function (r) {
      if (mine !== pending) return;  // a later edit has been sent since
      document.getElementById("mk-error").textContent = r.ok ? "" : r.data.error.message;
      document.getElementById("mk-count").textContent = r.ok ? String(r.data.count) : "–";
    });
  }

  function addCondition() {
    var template = document.getElementById("mk-condition");
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelector(".mk-remove").addEventListener("click", function () { row.remove(); recount(); });
    row.addEventListener("change", function () { showKinds(row); recount(); });
    row.addEventListener("input", recount);
    document.getElementById("mk-conditions").appendChild(row);
    showKinds(row);
    recount();
  }

  function builder() {
    if (!document.getElementById("mk-add")) return;
    document.getElementById("mk-add").addEventListener("click", addCondition);
    document.getElementById("mk-combinator").addEventListener("change", recount);
    document.getElementById("mk-save").addEventListener("click", function () {
      var name = document.getElementById("mk-name").value.trim() || "new segment";
      post("/api/v1/marketing/segments", { name: name, rule: rule() }).then(function (r) {
        if (r.ok) window.location.reload();
        else document.getElementById("mk-error").textContent = r.data.error.message;
      });
    });
    recount();
  }

  function errorBars(api) {
    var x = api.value(0), low = api.coord([x, api.value(1)]), high = api.coord([x, api.value(2)]);
    var half = api.size([1, 0])[0] * 0.15;
    var style = { stroke: "#333", lineWidth: 1.5 };
    return {
      type: "group",
      children: [
        { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style: style },
        { type: "line", shape: { x1: low[0] - half, y1: low[1], x2: low[0] + half, y2: low[1] }, style: style },
        { type: "line", shape: { x1: high[0] - half, y1: high[1], x2: high[0] + half, y2: high[1] }, style: style },
      ],
    };
  }

  function uplift(chart) {
    function bars(values) { return values.map(function (v) { return v[0]; }); }
    function ranges(values) { return values.map(function (v, i) { return [i, v[1], v[2]]; }); }
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: [{ left: 50, right: "55%", top: 60, bottom: 40 }, { left: "55%", right: 20, top: 60, bottom: 40 }],
      xAxis: [{ type: "category", data: chart.labels, gridIndex: 0 }, { type: "category", data: chart.labels, gridIndex: 1 }],
      yAxis: [{ type: "value", name: "conversion, points", gridIndex: 0 }, { type: "value", name: "GMV / consumer", gridIndex: 1 }],
      series: [
        { name: "conversion uplift", type: "bar", data: bars(chart.conversion), xAxisIndex: 0, yAxisIndex: 0 },
        { name: "conversion 95% CI", type: "custom", renderItem: function (p, api) { return errorBars(api); },
          data: ranges(chart.conversion), encode: { x: 0, y: [1, 2] }, xAxisIndex: 0, yAxisIndex: 0, z: 10 },
        { name: "GMV per consumer uplift", type: "bar", data: bars(chart.gmv), xAxisIndex: 1, yAxisIndex: 1 },
        { name: "GMV 95% CI", type: "custom", renderItem: function (p, api) { return errorBars(api); },
          data: ranges(chart.gmv), encode: { x: 0, y: [1, 2] }, xAxisIndex: 1, yAxisIndex: 1, z: 10 },
      ],
    };
  }

  function charts() {
    var source = document.getElementById("mk-data");
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent || "{}");
    var options = {
      sizes: {
        animation: false, tooltip: {}, grid: { left: 40, right: 20, top: 20, bottom: 60, containLabel: true },
        xAxis: { type: "category", data: data.sizes.labels, axisLabel: { interval: 0, rotate: 20 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "consumers", type: "bar", data: data.sizes.sizes }],
      },
      flows: {
        animation: false, tooltip: {},
        series: [{ type: "sankey", data: data.flows.nodes, links: data.flows.links, nodeAlign: "justify",
                   emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", opacity: 0.4 } }],
      },
      uplift: uplift(data.uplift),
    };
    // Charts grow into place unless the reader asked for less motion (screenshots do too).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    Object.keys(options).forEach(function (id) {
      var el = document.getElementById("mk-chart-" + id);
      if (!el) return;
      var instance = window.echarts.init(el);
      if (still) options[id].animation = false;
      instance.setOption(options[id]);
      window.addEventListener("resize", function () { instance.resize(); });
    });
  }

  function start() { builder(); charts(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
