// Consumer portrait page: draws the charts described by #portrait-data with ECharts.
(function () {
  "use strict";

  function bars(chart) {
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 30, containLabel: true },
      xAxis: { type: "category", data: chart.labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: chart.values }],
    };
  }

  function hbars(chart) {
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 16, right: 24, top: 16, bottom: 24, containLabel: true },
      xAxis: { type: "value", max: chart.max || null, minInterval: chart.max ? 0 : 1 },
      yAxis: { type: "category", data: chart.labels, inverse: true },
      series: [{ type: "bar", data: chart.values, label: { show: true, position: "right" } }],
    };
  }

  function radar(chart) {
    return {
      tooltip: {},
      radar: { indicator: chart.labels.map(function (name) { return { name: name, max: 5 }; }) },
      series: [{ type: "radar", data: [{ value: chart.values, name: "RFM" }], areaStyle: {} }],
    };
  }

  function draw() {
    var source = document.getElementById("portrait-data");
    if (!source || !window.echarts) return;
    // Charts grow into place unless the reader asked for less motion (screenshots do too).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    JSON.parse(source.textContent || "[]").forEach(function (chart) {
      var el = document.getElementById("chart-" + chart.id);
      if (!el) return;
      var option = chart.kind === "radar" ? radar(chart) : chart.kind === "hbars" ? hbars(chart) : bars(chart);
      var instance = window.echarts.init(el);
      if (still) option.animation = false;
      instance.setOption(option);
      window.addEventListener("resize", function () { instance.resize(); });
    });
    document.body.dataset.chartsReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
