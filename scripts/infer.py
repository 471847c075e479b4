"""Predict digits with a saved model, outside the pipeline: competition CSVs or your own pictures.

    python scripts/infer.py --model results/model.npz my_seven.png scan.jpg [--top 3]
    python scripts/infer.py --model results/model.npz resources/data/test.csv

Each input row (a CSV row, or one picture) gives one line on standard output:

    my_seven.png: 7  (7: 0.981, 1: 0.012, 9: 0.004)

A CSV is read in the competition's layout: with a ``label`` column it is a
train-layout file and the true label is shown after the probabilities. Pictures
of any size, colour or polarity are converted to MNIST's 28x28 format first
(see ``imageprep.py``).
"""
from __future__ import annotations

import argparse
import gzip
import logging
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

import dataio
import numpynet
from common import UserError, run_main, setup_logging
from imageprep import image_file_to_mnist

log = logging.getLogger("digits")

# Competition files, plain or compressed as dataio.read_digits_csv accepts them.
CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")


@dataclass
class Batch:
    """Rows to predict with a display name each, and true labels when the input has them."""

    names: list[str]
    pixels: np.ndarray  # uint8 (n, 784)
    labels: np.ndarray | None = None


def _first_line(path: Path) -> bytes:
    """The first line of a CSV, looking inside .gz and single-member .zip files like dataio does."""
    name = path.name.lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            return handle.readline()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1:
                return b""
            with archive.open(members[0]) as handle:
                return handle.readline()
    with open(path, "rb") as handle:
        return handle.readline()


def csv_kind(path: Path) -> str:
    """'train' when the header has a label column, else 'test'.

    A header that cannot be read at all gives 'test'; dataio.read_digits_csv then
    reports what is wrong with the file, naming it.
    """
    try:
        header = _first_line(path).decode("utf-8-sig", errors="replace")
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        return "test"
    columns = [column.strip().strip('"').strip().lower() for column in header.split(",")]
    return "train" if "label" in columns else "test"


def is_csv(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in CSV_SUFFIXES)


def read_csv_input(path: Path) -> Batch:
    pixels, labels = dataio.read_digits_csv(path, csv_kind(path))
    names = [f"{path}:{row}" for row in range(1, len(pixels) + 1)]
    return Batch(names, np.asarray(pixels, dtype=np.uint8), None if labels is None else np.asarray(labels))


def read_image_input(path: Path) -> Batch:
    return Batch([str(path)], image_file_to_mnist(path)[None, :])


def read_inputs(paths: Sequence[str]) -> list[Batch]:
    """Every input read and converted before anything is predicted, so a bad file fails fast."""
    batches = []
    for raw in paths:
        path = Path(raw)
        batch = read_csv_input(path) if is_csv(path) else read_image_input(path)
        if len(batch.names) == 0:
            raise UserError(f"{path}: no rows to predict; the file has a header only")
        batches.append(batch)
    return batches


def format_prediction(name: str, probabilities: np.ndarray, top: int, label: int | None = None) -> str:
    """``name: digit  (d: p, d: p, ...)`` with the ``top`` most probable digits, best first."""
    order = np.argsort(-probabilities, kind="stable")[:top]
    ranked = ", ".join(f"{int(digit)}: {float(probabilities[digit]):.3f}" for digit in order)
    line = f"{name}: {int(order[0])}  ({ranked})"
    if label is not None:
        verdict = "right" if int(label) == int(order[0]) else "WRONG"
        line += f"  label {int(label)} {verdict}"
    return line


def predict_lines(network, batches: Sequence[Batch], top: int) -> list[str]:
    lines = []
    for batch in batches:
        probabilities = np.asarray(network.predict_proba(batch.pixels))
        labels = batch.labels if batch.labels is not None else [None] * len(batch.names)
        lines += [format_prediction(name, row, top, label)
                  for name, row, label in zip(batch.names, probabilities, labels)]
        if batch.labels is not None:
            correct = int((probabilities.argmax(axis=1) == batch.labels).sum())
            log.info("%s: %d of %d rows right (%.2f%%)", batch.names[0].rsplit(":", 1)[0], correct,
                     len(batch.labels), 100.0 * correct / len(batch.labels))
    return lines


def top_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number 1..10, got {text!r}") from None
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"expected a whole number 1..10, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model file written by the train rule (results/model.npz)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="a competition CSV (train or test layout) or a PNG/JPEG picture of one digit")
    parser.add_argument("--top", type=top_count, default=3, help="how many probabilities to show (default 3)")
    parser.add_argument("--log", help="log file (default: messages go to the console)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log)
    network, _metadata = numpynet.load_model(args.model)
    batches = read_inputs(args.inputs)
    for line in predict_lines(network, batches, args.top):
        print(line)


if __name__ == "__main__":
    sys.exit(run_main(main))
