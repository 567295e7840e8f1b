"""Loss and token-accuracy curves of one job, as a PNG, from the stored metrics.

The result file's rows (`finetune.job_results`) are preferred: they are the service's final word. While a
job runs, or when a service gives no result file, the metrics events (`finetune.job_metrics`) are used.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on these machines
import matplotlib.pyplot as plt  # noqa: E402

from .errors import FinetuneError  # noqa: E402
from .store import Store  # noqa: E402

__all__ = ["plot_job"]


def plot_job(store: Store, job_id: str, output: Path) -> Path:
    """Write `output` (PNG): loss per step (train, validation) and token accuracy per step."""
    rows = store.query(
        "SELECT step, train_loss, valid_loss, train_accuracy, valid_mean_token_accuracy FROM finetune.job_results "
        "WHERE job_id = ? ORDER BY step", [job_id])
    source = "result file"
    if not rows:
        rows = store.query(
            "SELECT step, train_loss, valid_loss, train_mean_token_accuracy, valid_mean_token_accuracy "
            "FROM finetune.job_metrics WHERE job_id = ? ORDER BY step", [job_id])
        source = "metrics events"
    if not rows:
        raise FinetuneError(f"no metrics stored for {job_id} yet: `pinoloft jobs watch {job_id}` first")
    model = (store.query("SELECT coalesce(fine_tuned_model, model) FROM finetune.jobs WHERE job_id = ?", [job_id])
             or [(job_id,)])[0][0]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for axis, columns, title in ((loss_axis, (1, 2), "loss"), (accuracy_axis, (3, 4), "token accuracy")):
        for column, label, style in ((columns[0], "train", "-"), (columns[1], "validation", "o-")):
            points = [(row[0], row[column]) for row in rows if row[column] is not None]
            if points:
                axis.plot([p[0] for p in points], [p[1] for p in points], style, label=label, markersize=3)
        axis.set_xlabel("step")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle(f"{job_id} ({model}), from the {source}", fontsize=10)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, format="png")
    plt.close(figure)
    return output
