"""Figures for the report: training curves, confusion matrix, worst mistakes, per-class accuracy.

Each ``plot_*`` function takes plain data (a DataFrame, a dict, arrays) and a
target path, and writes one PNG of a fixed pixel size through
:func:`common.atomic_path`. The PNGs carry no timestamp or software version, so
the same inputs give byte-identical files and Snakemake sees no spurious change.

``main`` is the rule's thin CLI: it reads ``history.csv``, ``metrics.json`` and
``dev_predictions.npz``, checks them, and writes the four figures into ``--outdir``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from common import UserError, atomic_path, run_main, setup_logging  # noqa: E402

log = logging.getLogger("digits")

DPI = 100
# Figure sizes in inches; at DPI these give the pixel sizes below.
SIZES = {
    "training_curves": (11.0, 4.5),
    "confusion_matrix": (8.0, 7.0),
    "worst_mistakes": (10.0, 8.0),
    "per_class_accuracy": (9.0, 5.0),
}
PIXELS = {name: (round(w * DPI), round(h * DPI)) for name, (w, h) in SIZES.items()}
FILENAMES = {name: f"{name}.png" for name in SIZES}

HISTORY_COLUMNS = ["epoch", "learning_rate", "train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "seconds"]
MONITORS = ("dev_loss", "dev_accuracy")
N_CLASSES = 10
GALLERY_ROWS, GALLERY_COLS = 4, 6

TRAIN_COLOUR = "#1f77b4"
DEV_COLOUR = "#d62728"
BEST_COLOUR = "#2ca02c"

# Keep text and layout independent of any matplotlibrc the user may have.
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
}


# --------------------------------------------------------------------------- saving


def _new_figure(name: str, **kwargs):
    return plt.figure(figsize=SIZES[name], dpi=DPI, layout="constrained", **kwargs)


def _save(fig, path: str | Path) -> None:
    """Write ``fig`` as a PNG at the fixed DPI, without metadata that changes between runs."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    log.info("wrote %s", path)


# --------------------------------------------------------------------------- figures


def best_epoch(history: pd.DataFrame, monitor: str = "dev_loss") -> int | None:
    """The epoch early stopping keeps: lowest dev loss or highest dev accuracy (first one on ties)."""
    values = history[monitor].to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return None
    filled = np.where(np.isfinite(values), values, np.inf if monitor == "dev_loss" else -np.inf)
    index = int(np.argmin(filled)) if monitor == "dev_loss" else int(np.argmax(filled))
    return int(history["epoch"].iloc[index])


def plot_training_curves(history: pd.DataFrame, path: str | Path, monitor: str = "dev_loss") -> None:
    """Loss and accuracy per epoch for the train and dev sets, with the best epoch marked."""
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, not {monitor!r}")
    epochs = history["epoch"].to_numpy(dtype=float)
    best = best_epoch(history, monitor)
    with plt.rc_context(STYLE):
        fig = _new_figure("training_curves")
        loss_ax, acc_ax = fig.subplots(1, 2)
        panels = (
            (loss_ax, "loss", "cross-entropy loss", "Loss (lower is better)"),
            (acc_ax, "accuracy", "accuracy", "Accuracy (higher is better)"),
        )
        marker = "o" if len(epochs) <= 40 else None
        for ax, key, ylabel, title in panels:
            ax.plot(epochs, history[f"train_{key}"], color=TRAIN_COLOUR, marker=marker, markersize=4, label="train")
            ax.plot(epochs, history[f"dev_{key}"], color=DEV_COLOUR, marker=marker, markersize=4, label="dev")
            if best is not None:
                row = history.loc[history["epoch"] == best].iloc[0]
                ax.axvline(best, color=BEST_COLOUR, linestyle="--", linewidth=1.2,
                           label=f"best epoch ({best}, by {monitor.replace('_', ' ')})")
                ax.plot([best], [row[f"dev_{key}"]], marker="*", markersize=14, color=BEST_COLOUR,
                        markeredgecolor="black", linestyle="none", zorder=5)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            if len(epochs) == 1:
                ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
        acc_ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0))
        loss_ax.legend(loc="upper right")
        acc_ax.legend(loc="lower right")
        if best is not None:
            row = history.loc[history["epoch"] == best].iloc[0]
            summary = (f"best epoch {best}: dev loss {row['dev_loss']:.4f}, "
                       f"dev accuracy {row['dev_accuracy']:.2%}")
        else:
            summary = "no dev figures recorded"
        fig.suptitle(f"Training curves over {len(epochs)} epoch{'s' if len(epochs) != 1 else ''} ({summary})")
        _save(fig, path)


def _text_colour(rgba) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba``."""
    red, green, blue = to_rgb(rgba)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "white" if luminance < 0.5 else "black"


def plot_confusion_matrix(matrix: np.ndarray, path: str | Path) -> None:
    """10x10 counts (rows true, columns predicted), coloured by the share of each true label."""
    matrix = np.asarray(matrix, dtype=np.int64)
    row_totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_totals, out=np.zeros(matrix.shape, dtype=float), where=row_totals > 0)
    # A square root stretches the low end, so that a handful of mistakes is still visible.
    colours = np.sqrt(shares)
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    cmap = plt.get_cmap("Blues")
    with plt.rc_context(STYLE):
        fig = _new_figure("confusion_matrix")
        ax = fig.subplots()
        image = ax.imshow(colours, cmap=cmap, vmin=0.0, vmax=1.0)
        digits = max(len(str(int(matrix.max()))) if matrix.size else 1, 1)
        fontsize = 11 if digits <= 3 else 9 if digits == 4 else 7
        for true in range(N_CLASSES):
            for predicted in range(N_CLASSES):
                count = int(matrix[true, predicted])
                ax.text(predicted, true, str(count), ha="center", va="center", fontsize=fontsize,
                        color=_text_colour(cmap(colours[true, predicted])),
                        fontweight="bold" if true == predicted else "normal")
        ax.set_xticks(range(N_CLASSES))
        ax.set_yticks(range(N_CLASSES))
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        ax.xaxis.set_label_position("top")
        ax.xaxis.tick_top()
        ax.set_xticks(np.arange(-0.5, N_CLASSES), minor=True)
        ax.set_yticks(np.arange(-0.5, N_CLASSES), minor=True)
        ax.grid(which="minor", color="white", linewidth=1)
        ax.tick_params(which="minor", length=0)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        ticks = np.array([0.0, 0.01, 0.05, 0.2, 0.5, 1.0])
        bar.set_ticks(np.sqrt(ticks))
        bar.set_ticklabels([f"{t:.0%}" for t in ticks])
        bar.set_label("share of the true label's images (square-root scale)")
        accuracy = correct / total if total else float("nan")
        ax.set_title(f"Confusion matrix: {correct} of {total} dev images on the diagonal ({accuracy:.2%})",
                     pad=12)
        _save(fig, path)


def worst_mistakes(probabilities: np.ndarray, labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of misclassified rows, most confident first (ties keep row order)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = np.argsort(-confidence, kind="stable")
    return wrong[order][:limit]


def plot_worst_mistakes(probabilities: np.ndarray, labels: np.ndarray, images: np.ndarray,
                        path: str | Path, rows: int = GALLERY_ROWS, cols: int = GALLERY_COLS) -> None:
    """A gallery of the dev images the model got wrong with the highest confidence."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    images = np.asarray(images)
    n_wrong = int((probabilities.argmax(axis=1) != labels).sum()) if len(labels) else 0
    chosen = worst_mistakes(probabilities, labels, rows * cols) if len(labels) else np.array([], dtype=int)
    with plt.rc_context(STYLE):
        fig = _new_figure("worst_mistakes")
        axes = fig.subplots(rows, cols, squeeze=False)
        for slot, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if slot >= len(chosen):
                ax.set_axis_off()
                continue
            row = int(chosen[slot])
            predicted = int(probabilities[row].argmax())
            confidence = float(probabilities[row, predicted])
            ax.imshow(images[row].reshape(28, 28), cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"true {labels[row]}, predicted {predicted}\nconfidence {confidence:.1%}",
                         fontsize=10)
            for spine in ax.spines.values():
                spine.set_edgecolor(DEV_COLOUR)
                spine.set_linewidth(1.5)
        if n_wrong == 0:
            fig.text(0.5, 0.5, f"No mistakes: all {len(labels)} dev images were classified correctly.",
                     ha="center", va="center", fontsize=14)
            title = "Most confident mistakes on the dev set"
        else:
            shown = len(chosen)
            title = (f"The {shown} most confident mistakes" if shown < n_wrong
                     else f"All {n_wrong} mistake{'s' if n_wrong != 1 else ''}")
            title += f" ({n_wrong} wrong of {len(labels)} dev images)"
        fig.suptitle(title, fontsize=13)
        _save(fig, path)


def plot_per_class_accuracy(metrics: dict, path: str | Path) -> None:
    """Recall per digit as bars, each with its value, and the overall accuracy as a line."""
    classes = [str(digit) for digit in range(N_CLASSES)]
    recall = np.array([float(metrics["per_class"][c]["recall"]) for c in classes])
    support = [int(metrics["per_class"][c]["support"]) for c in classes]
    overall = float(metrics["accuracy"])
    lowest = float(min(recall.min(), overall))
    # Zoom in when every class is good, otherwise the differences disappear; say so on the axis.
    bottom = 0.0 if lowest < 0.5 else max(0.0, math.floor(lowest * 10 - 0.5) / 10)
    with plt.rc_context(STYLE):
        fig = _new_figure("per_class_accuracy")
        ax = fig.subplots()
        colours = [DEV_COLOUR if r < overall else TRAIN_COLOUR for r in recall]
        bars = ax.bar(range(N_CLASSES), recall - bottom, bottom=bottom, color=colours, width=0.7)
        span = 1.0 - bottom
        label_height = 0.06 * span  # a 10-point label, in data units, with a little room
        for bar, value in zip(bars, recall):
            x = bar.get_x() + bar.get_width() / 2
            label_top = value - 0.015 * span
            if label_top - label_height <= overall <= value + 0.005 * span:
                label_top = overall - 0.015 * span  # slide below the overall line instead of under it
            if label_top - label_height > bottom:
                # Inside the bar, so the label never collides with the overall line.
                ax.text(x, label_top, f"{value:.1%}", ha="center", va="top", fontsize=10,
                        color="white", fontweight="bold")
            else:
                ax.text(x, value + 0.01 * span, f"{value:.1%}", ha="center", va="bottom", fontsize=10,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
        ax.axhline(overall, color="black", linestyle="--", linewidth=1.2,
                   label=f"overall accuracy {overall:.2%}")
        ax.set_xticks(range(N_CLASSES))
        ax.set_xticklabels([f"{c}\n(n={s})" for c, s in zip(classes, support)], fontsize=9)
        ax.set_xlabel("true digit (number of dev images)")
        ylabel = "recall: share of the digit's images predicted correctly"
        if bottom > 0:
            ylabel = f"recall (axis starts at {bottom:.0%})"
        ax.set_ylabel(ylabel)
        # Head room above 100% for the legend, so it never covers a bar.
        ax.set_ylim(bottom, 1.0 + span * 0.16)
        step = 0.1 if span >= 0.5 else 0.05 if span >= 0.2 else 0.02
        ax.set_yticks(np.round(np.arange(bottom, 1.0 + step / 2, step), 4))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=0))
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right", framealpha=0.95)
        ax.set_title("Accuracy per digit on the dev set (red: below overall)")
        _save(fig, path)


# --------------------------------------------------------------------------- reading inputs


def read_history(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        history = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; run the train rule first") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise UserError(f"{path}: cannot read as CSV ({error}); rerun the train rule") from None
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(HISTORY_COLUMNS)}")
    if history.empty:
        raise UserError(f"{path}: no epochs recorded; rerun the train rule")
    for column in HISTORY_COLUMNS:
        values = pd.to_numeric(history[column], errors="coerce")
        bad = values.isna() & history[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise UserError(f"{path}: row {row}: column {column}: not a number; rerun the train rule")
        history[column] = values.astype(float)
    if history["epoch"].isna().any():
        raise UserError(f"{path}: column epoch: empty value; rerun the train rule")
    history["epoch"] = history["epoch"].astype(int)
    return history


def read_metrics(path: str | Path) -> dict:
    path = Path(path)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; run the evaluate rule first") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); rerun the evaluate rule") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path}: expected a JSON object; rerun the evaluate rule")
    for key in ("accuracy", "per_class", "confusion_matrix"):
        if key not in metrics:
            raise UserError(f"{path}: missing key {key!r}; rerun the evaluate rule")
    try:
        accuracy = float(metrics["accuracy"])
    except (TypeError, ValueError):
        raise UserError(f"{path}: accuracy: not a number; rerun the evaluate rule") from None
    if not 0.0 <= accuracy <= 1.0:
        raise UserError(f"{path}: accuracy: {accuracy} is outside 0..1; rerun the evaluate rule")
    per_class = metrics["per_class"]
    if not isinstance(per_class, dict):
        raise UserError(f"{path}: per_class: expected an object keyed by digit; rerun the evaluate rule")
    for digit in range(N_CLASSES):
        entry = per_class.get(str(digit))
        if not isinstance(entry, dict) or "recall" not in entry or "support" not in entry:
            raise UserError(f"{path}: per_class: {digit}: missing recall or support; rerun the evaluate rule")
        try:
            recall = float(entry["recall"])
            int(entry["support"])
        except (TypeError, ValueError):
            raise UserError(f"{path}: per_class: {digit}: recall/support not a number; "
                            "rerun the evaluate rule") from None
        if not 0.0 <= recall <= 1.0:
            raise UserError(f"{path}: per_class: {digit}: recall {recall} is outside 0..1; "
                            "rerun the evaluate rule")
    try:
        matrix = np.array(metrics["confusion_matrix"], dtype=np.int64)
    except (TypeError, ValueError):
        raise UserError(f"{path}: confusion_matrix: expected 10 rows of 10 integers; "
                        "rerun the evaluate rule") from None
    if matrix.shape != (N_CLASSES, N_CLASSES) or (matrix < 0).any():
        raise UserError(f"{path}: confusion_matrix: expected 10 rows of 10 non-negative integers; "
                        "rerun the evaluate rule")
    return metrics


def read_predictions(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("probabilities", "labels", "images") if key in archive.files}
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; run the evaluate rule first") from None
    except (OSError, ValueError, EOFError) as error:
        raise UserError(f"{path}: not a readable .npz archive ({error}); rerun the evaluate rule") from None
    for key in ("probabilities", "labels", "images"):
        if key not in arrays:
            raise UserError(f"{path}: missing array {key!r}; rerun the evaluate rule")
    probabilities, labels, images = arrays["probabilities"], arrays["labels"], arrays["images"]
    n = labels.shape[0] if labels.ndim == 1 else -1
    if labels.ndim != 1:
        raise UserError(f"{path}: labels: expected shape (n,), got {labels.shape}; rerun the evaluate rule")
    if probabilities.shape != (n, N_CLASSES):
        raise UserError(f"{path}: probabilities: expected shape ({n}, 10), got {probabilities.shape}; "
                        "rerun the evaluate rule")
    if images.shape != (n, 784):
        raise UserError(f"{path}: images: expected shape ({n}, 784), got {images.shape}; "
                        "rerun the evaluate rule")
    if not np.issubdtype(probabilities.dtype, np.floating) or not np.isfinite(probabilities).all():
        raise UserError(f"{path}: probabilities: expected finite floats; rerun the evaluate rule")
    if not np.issubdtype(labels.dtype, np.integer) or (n and (labels.min() < 0 or labels.max() > 9)):
        raise UserError(f"{path}: labels: expected integers 0..9; rerun the evaluate rule")
    return arrays


# --------------------------------------------------------------------------- CLI


def write_all(history: pd.DataFrame, metrics: dict, predictions: dict, outdir: str | Path,
              monitor: str = "dev_loss") -> dict[str, Path]:
    outdir = Path(outdir)
    paths = {name: outdir / filename for name, filename in FILENAMES.items()}
    plot_training_curves(history, paths["training_curves"], monitor=monitor)
    plot_confusion_matrix(np.array(metrics["confusion_matrix"]), paths["confusion_matrix"])
    plot_worst_mistakes(predictions["probabilities"], predictions["labels"], predictions["images"],
                        paths["worst_mistakes"])
    plot_per_class_accuracy(metrics, paths["per_class_accuracy"])
    return paths


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", required=True, help="history.csv written by the train rule")
    parser.add_argument("--metrics", required=True, help="metrics.json written by the evaluate rule")
    parser.add_argument("--predictions", required=True, help="dev_predictions.npz written by the evaluate rule")
    parser.add_argument("--outdir", required=True, help="folder for the PNG files")
    parser.add_argument("--monitor", choices=MONITORS, default="dev_loss",
                        help="dev figure early stopping watched, to mark the best epoch (default: dev_loss)")
    parser.add_argument("--log", help="log file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log)
    history = read_history(args.history)
    metrics = read_metrics(args.metrics)
    predictions = read_predictions(args.predictions)
    write_all(history, metrics, predictions, args.outdir, monitor=args.monitor)


if __name__ == "__main__":
    sys.exit(run_main(main))
