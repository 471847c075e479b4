"""Rule `evaluate`: score the trained model on the dev split.

Writes metrics.json (accuracy, log loss, per-class precision/recall/F1 and the
confusion matrix), the confusion matrix as CSV, and the dev probabilities that
the plots use.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

import numpy as np

from common import run_main, save_npz, set_blas_threads, setup_logging, write_text_atomic
from dataio import load_split
from numpynet import load_model

log = logging.getLogger("digits.evaluate")

N_CLASSES = 10


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Counts with true labels as rows and predictions as columns."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return counts


def log_loss(probabilities: np.ndarray, labels: np.ndarray, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood; probabilities are clipped so a confident miss costs a finite amount."""
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)].astype(np.float64)
    return float(-np.mean(np.log(np.clip(picked, eps, 1.0))))


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    predicted = probabilities.argmax(axis=1)
    counts = confusion_matrix(labels, predicted, probabilities.shape[1])
    true_positive = np.diag(counts)
    predicted_total = counts.sum(axis=0)
    actual_total = counts.sum(axis=1)
    per_class = {}
    for label in range(counts.shape[0]):
        precision = true_positive[label] / predicted_total[label] if predicted_total[label] else 0.0
        recall = true_positive[label] / actual_total[label] if actual_total[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(label)] = {
            "precision": round(float(precision), 6),
            "recall": round(float(recall), 6),
            "f1": round(float(f1), 6),
            "support": int(actual_total[label]),
        }
    return {
        "n": int(len(labels)),
        "accuracy": round(float(true_positive.sum() / len(labels)), 6),
        "log_loss": round(log_loss(probabilities, labels), 6),
        "per_class": per_class,
        "confusion_matrix": counts.tolist(),
    }


def confusion_csv(counts: list[list[int]]) -> str:
    header = "true_label," + ",".join(f"predicted_{label}" for label in range(len(counts)))
    rows = [f"{label}," + ",".join(str(value) for value in row) for label, row in enumerate(counts)]
    return "\n".join([header, *rows]) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dev", required=True, help="dev split (.npz)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--confusion", required=True)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    set_blas_threads(args.threads)

    network, _ = load_model(args.model)
    images, labels = load_split(args.dev)
    probabilities = network.predict_proba(images)
    metrics = classification_metrics(probabilities, labels)

    save_npz(args.predictions, compress=True, probabilities=probabilities.astype(np.float32),
             labels=labels, images=images)
    write_text_atomic(args.confusion, confusion_csv(metrics["confusion_matrix"]))
    write_text_atomic(args.metrics, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("dev accuracy %.4f, log loss %.4f on %d rows", metrics["accuracy"], metrics["log_loss"], metrics["n"])


if __name__ == "__main__":
    sys.exit(run_main(main))
