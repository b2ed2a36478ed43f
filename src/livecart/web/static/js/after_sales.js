// After-sales queue: counts each request's SLA down from the seconds the server computed on
// its own clock (so a wrong browser clock does not matter), and marks the overdue ones.
(function () {
  "use strict";
  var started = Date.now();

  function label(seconds) {
    if (seconds <= 0) return "overdue: approved at the next sweep";
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    return h + " h " + String(m).padStart(2, "0") + " min left";
  }

  function tick() {
    var gone = Math.floor((Date.now() - started) / 1000);
    document.querySelectorAll("[data-sla-seconds]").forEach(function (el) {
      var left = Number.parseInt(el.dataset.slaSeconds, 10) - gone;
      el.textContent = label(left);
      el.classList.toggle("overdue", left <= 0);
    });
  }

  tick();
  setInterval(tick, 30000);
})();
