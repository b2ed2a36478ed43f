// Brand scorecard: draws the charts described by #scorecard-data with ECharts.
(function () {
  "use strict";

  function option(chart) {
    var lines = chart.kind === "lines";
    var series = chart.series.map(function (s) {
      return { name: s.name, type: lines ? "line" : "bar", data: s.data, showSymbol: true, connectNulls: true };
    });
    if (lines && chart.orders) {
      series.push({ name: "paid orders", type: "bar", yAxisIndex: 1, data: chart.orders, itemStyle: { opacity: 0.25 } });
    }
    var yAxis = [{ type: "value", name: chart.unit || "%", min: 0 }];
    if (lines) yAxis.push({ type: "value", name: "orders", minInterval: 1, splitLine: { show: false } });
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 24, top: 40, bottom: 50, containLabel: true },
      xAxis: { type: "category", data: chart.labels, axisLabel: { interval: 0, rotate: chart.labels.length > 4 ? 30 : 0 } },
      yAxis: yAxis,
      series: series,
    };
  }

  function draw() {
    var source = document.getElementById("scorecard-data");
    if (!source || !window.echarts) return;
    // Charts grow into place unless the reader asked for less motion (screenshots do too).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    JSON.parse(source.textContent || "[]").forEach(function (chart) {
      var el = document.getElementById("scorecard-" + chart.id);
      if (!el) return;
      var instance = window.echarts.init(el);
      var settings = option(chart);
      if (still) settings.animation = false;
      instance.setOption(settings);
      window.addEventListener("resize", function () { instance.resize(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
