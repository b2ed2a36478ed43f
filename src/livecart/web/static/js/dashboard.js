// Dashboards: draws the charts described by the page's #dashboard-data JSON with ECharts.
(function () {
  "use strict";

  function funnelOption(chart) {
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 40, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: chart.groups, axisLabel: { interval: 0, rotate: chart.groups.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1, name: "people" },
      series: chart.steps.map(function (step, i) {
        return { name: step, type: "bar", data: chart.values[i] };
      }),
    };
  }

  function gmvOption(chart) {
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 40, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: chart.days },
      yAxis: { type: "value" },
      series: chart.series.map(function (s) {
        return { name: s.name, type: "line", smooth: false, showSymbol: true, data: s.data };
      }),
    };
  }

  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || !window.echarts) return;
    var charts = JSON.parse(source.textContent || "[]");
    // Charts grow into place unless the reader asked for less motion (screenshots do too).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    charts.forEach(function (chart) {
      var el = document.getElementById("chart-" + chart.id);
      if (!el) return;
      var instance = window.echarts.init(el);
      var option = chart.kind === "gmv" ? gmvOption(chart) : funnelOption(chart);
      if (still) option.animation = false;
      instance.setOption(option);
      window.addEventListener("resize", function () { instance.resize(); });
    });
    document.body.dataset.chartsReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
