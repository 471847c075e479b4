"""Rule `split`: check train.csv and split it into train and dev arrays, stratified by label."""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from common import UserError, run_main, setup_logging
from dataio import read_digits_csv, save_split

log = logging.getLogger("digits.split")


def stratified_split(labels: np.ndarray, dev_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of train and dev; each class keeps its share in both, to within one row.

    Rows of every class are shuffled with one seeded generator, and each class gives
    round(dev_fraction * count) rows to dev, but never all of them and, where the class
    has two rows or more, at least one.
    """
    if not 0 < dev_fraction < 1:
        raise UserError(f"split: dev fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    rng = np.random.default_rng(seed)
    train_parts, dev_parts = [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rows = rows[rng.permutation(len(rows))]
        n_dev = int(round(dev_fraction * len(rows)))
        n_dev = min(max(n_dev, 1 if len(rows) > 1 else 0), len(rows) - 1)
        dev_parts.append(rows[:n_dev])
        train_parts.append(rows[n_dev:])
    train_rows = np.sort(np.concatenate(train_parts))
    dev_rows = np.sort(np.concatenate(dev_parts))
    if len(dev_rows) == 0:
        raise UserError(f"split: dev fraction {dev_fraction} leaves no dev rows out of {len(labels)}; "
                        "raise split.dev_fraction")
    return train_rows, dev_rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="train.csv in the competition's format")
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-out", required=True)
    parser.add_argument("--dev-out", required=True)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)

    images, labels = read_digits_csv(args.input, "train")
    train_rows, dev_rows = stratified_split(labels, args.dev_fraction, args.seed)
    save_split(args.train_out, images[train_rows], labels[train_rows])
    save_split(args.dev_out, images[dev_rows], labels[dev_rows])
    log.info("split %d rows of %s into %d train and %d dev (dev fraction %s, seed %d)",
             len(labels), args.input, len(train_rows), len(dev_rows), args.dev_fraction, args.seed)
    log.info("class counts, train: %s", np.bincount(labels[train_rows], minlength=10).tolist())
    log.info("class counts, dev:   %s", np.bincount(labels[dev_rows], minlength=10).tolist())


if __name__ == "__main__":
    sys.exit(run_main(main))
