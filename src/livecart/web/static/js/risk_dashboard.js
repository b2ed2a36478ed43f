// The risk dashboard's chart: one stacked horizontal bar per subject, split by signal.
const data = document.getElementById("risk-data");
const box = document.getElementById("risk-chart");

function draw() {
  if (!data || !box || !window.echarts) return;
  const scores = JSON.parse(data.textContent);
  const signals = scores.length ? scores[0].contributions.map((c) => c.signal) : [];
  const labels = scores.map((s) => `${s.subject_kind} #${s.subject_id} (${s.level})`);
  const chart = window.echarts.init(box);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 160, right: 24, top: 36, bottom: 24 },
    xAxis: { type: "value", max: 100, name: "score" },
    yAxis: { type: "category", data: labels, inverse: true },
    series: signals.map((signal) => ({
      name: signal,
      type: "bar",
      stack: "score",
      data: scores.map((s) => s.contributions.find((c) => c.signal === signal).contribution),
    })),
  });
  window.addEventListener("resize", () => chart.resize());
}

if (document.readyState === "complete") draw();
else window.addEventListener("load", draw);
