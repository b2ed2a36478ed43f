"""The Fader-Hardie tracking chart: cumulative repeat purchases by week, actual and model."""

from __future__ import annotations

from pathlib import Path

from livecart.insights.schemas import HoldoutReport

CHART_SUFFIXES = (".png", ".svg")


def draw_tracking_chart(report: HoldoutReport, path: Path) -> None:
    """Draw actual vs BG/NBD cumulative repeat purchases by week into a PNG or SVG file."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    from matplotlib import pyplot as plt

    weeks = [w.week for w in report.tracking]
    calibration_weeks = [w.week for w in report.tracking if w.holdout_forecast_cumulative is None]
    holdout = [w for w in report.tracking if w.holdout_forecast_cumulative is not None]
    figure, axes = plt.subplots(figsize=(9, 5), dpi=110)
    try:
        axes.plot(
            weeks, [w.actual_cumulative for w in report.tracking], color="black", label="actual"
        )
        axes.plot(
            weeks,
            [w.model_cumulative for w in report.tracking],
            color="tab:blue",
            linestyle="--",
            label="BG/NBD (from each first purchase)",
        )
        axes.plot(
            [w.week for w in holdout],
            [w.holdout_forecast_cumulative or 0.0 for w in holdout],
            color="tab:orange",
            linestyle=":",
            linewidth=2,
            label="BG/NBD forecast given calibration history",
        )
        if calibration_weeks:
            axes.axvline(max(calibration_weeks) + 0.5, color="grey", linewidth=0.8)
            axes.text(
                max(calibration_weeks) + 1,
                0,
                f"calibration ends {report.calibration_end.isoformat()}",
                color="grey",
                fontsize=8,
                va="bottom",
            )
        axes.set_xlabel("week")
        axes.set_ylabel("cumulative repeat purchases")
        axes.set_title(
            f"{report.customers:,} customers: forecast {report.forecast_repeat_purchases:,.0f} "
            f"vs actual {report.actual_repeat_purchases:,} repeat purchases in the holdout"
        )
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
