// The console's "viewers likely to buy now" panel: polls the staff-only buyer estimate.
import { api } from "./api.js";

const REFRESH_MS = 5000;

function render(panel, estimate) {
  const part = (name) => panel.querySelector(`[data-buyers=${name}]`);
  if (!estimate.model) {
    part("headline").textContent = "No will-buy model yet";
    part("detail").textContent = estimate.message;
    part("model").textContent = "";
    return;
  }
  const model = estimate.model;
  part("model").textContent =
    `model v${model.version}` + (model.auc == null ? "" : ` · test AUC ${model.auc.toFixed(2)}`);
  if (estimate.likely_buyers == null) {
    part("headline").textContent = estimate.message;
    part("detail").textContent = "";
    return;
  }
  // The headline is the expected number of buyers: the sum of calibrated probabilities.
  const n = Math.round(estimate.expected_buyers);
  part("headline").textContent = `${n} ${n === 1 ? "viewer" : "viewers"} likely to buy now`;
  part("detail").textContent =
    `${estimate.expected_buyers.toFixed(1)} expected buyers (sum of probabilities) among ` +
    `${estimate.viewers_scored} watching who have not ordered yet; ` +
    `${estimate.likely_buyers} at P ≥ ${estimate.threshold}.` +
    (model.calibration ? "" : " This model version is not calibrated: retrain it.");
}

async function refresh(panel) {
  try {
    render(panel, await api("GET", `/api/v1/sessions/${panel.dataset.sessionId}/buyer-estimate`));
  } catch (error) {
    panel.querySelector("[data-buyers=headline]").textContent = "Buyer estimate unavailable";
    panel.querySelector("[data-buyers=detail]").textContent = error.message;
  }
}

const panel = document.querySelector("[data-testid=buyer-estimate]");
if (panel) {
  refresh(panel);
  setInterval(() => refresh(panel), REFRESH_MS);
}
