"""Rule script: train the NumPy network on the train split; write the model and its history.

    python scripts/train.py --train results/split/train.npz --dev results/split/dev.npz \
        --settings '{"model": {...}, "train": {...}}' --threads 2 \
        --model results/model.npz --history results/history.csv --log logs/train.log

The work is done by the functions below, so tests (and notebooks) can call them
without a subprocess; ``main`` only wires them to the command line. If training
diverges, nothing is written: a half-trained model must not look like a result.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from typing import Sequence

from tqdm import tqdm

import common
import numpynet
from common import UserError, atomic_path, run_main
from dataio import load_split
from numpynet import ModelSettings, TrainSettings

log = logging.getLogger("digits")

N_PIXELS = 784
N_CLASSES = 10
SECTIONS = ("model", "train")


def parse_settings(text: str) -> tuple[ModelSettings, TrainSettings]:
    """``{"model": {...}, "train": {...}}``; a missing section or key takes its default."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"--settings: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise UserError('--settings: expected a JSON object such as {"model": {...}, "train": {...}}')
    for key in data:
        if key not in SECTIONS:
            raise UserError(f"--settings: unknown section {key!r}; expected 'model' and 'train'")
    return ModelSettings.from_dict(data.get("model", {})), TrainSettings.from_dict(data.get("train", {}))


def fit(X_train, y_train, X_dev, y_dev, model: ModelSettings, settings: TrainSettings,
        on_epoch=None) -> tuple[numpynet.Network, list[dict]]:
    network = numpynet.build_network(model, n_inputs=X_train.shape[1], n_classes=N_CLASSES,
                                     seed=settings.seed)
    history = numpynet.train(network, X_train, y_train, X_dev, y_dev, settings, on_epoch=on_epoch)
    return network, history


def kept_epoch(history: list[dict], settings: TrainSettings) -> dict:
    """The history row whose weights the network ends with."""
    if not settings.early_stopping:
        return history[-1]
    if settings.monitor == "dev_loss":
        return min(history, key=lambda row: row["dev_loss"])  # first of equals, as train keeps it
    return max(history, key=lambda row: row["dev_accuracy"])


def format_epoch(row: dict, epochs: int) -> str:
    return (f"epoch {row['epoch']}/{epochs}: lr {row['learning_rate']:.3g}, "
            f"loss {row['train_loss']:.4f}, train accuracy {row['train_accuracy']:.4f}, "
            f"dev loss {row['dev_loss']:.4f}, dev accuracy {row['dev_accuracy']:.4f}, "
            f"{row['seconds']:.2f} s")


def write_history(path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=numpynet.HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def train_and_save(train_path, dev_path, model: ModelSettings, settings: TrainSettings,
                   model_path, history_path, progress: bool = False) -> list[dict]:
    """Everything the rule does after parsing its arguments; returns the history."""
    X_train, y_train = load_split(train_path)
    X_dev, y_dev = load_split(dev_path)
    shape = "-".join(str(width) for width in (X_train.shape[1], *model.hidden, N_CLASSES))
    log.info("training a %s network on %d rows (dev %d rows); settings %s", shape, len(X_train),
             len(X_dev), json.dumps({"model": model.to_dict(), "train": settings.to_dict()}))

    with tqdm(total=settings.epochs, unit="epoch", desc="train", file=sys.stderr,
              disable=not progress) as bar:
        def on_epoch(row):
            log.info("%s", format_epoch(row, settings.epochs))
            bar.update(1)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", dev_acc=f"{row['dev_accuracy']:.4f}")

        network, history = fit(X_train, y_train, X_dev, y_dev, model, settings, on_epoch)

    kept = kept_epoch(history, settings)
    extra = {"epochs_run": len(history), "kept_epoch": kept["epoch"],
             "dev_loss": kept["dev_loss"], "dev_accuracy": kept["dev_accuracy"],
             "n_train": len(X_train), "n_dev": len(X_dev)}
    numpynet.save_model(model_path, network, model, settings, extra)
    write_history(history_path, history)
    log.info("kept the weights of epoch %d (dev accuracy %.4f); wrote %s and %s",
             kept["epoch"], kept["dev_accuracy"], model_path, history_path)
    return history


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="train split .npz (X uint8, y uint8)")
    parser.add_argument("--dev", required=True, help="dev split .npz (X uint8, y uint8)")
    parser.add_argument("--settings", default="{}",
                        help='JSON: {"model": {...ModelSettings}, "train": {...TrainSettings}}')
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--model", required=True, help="output model .npz")
    parser.add_argument("--history", required=True, help="output history .csv")
    parser.add_argument("--log", help="log file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    common.setup_logging(args.log)
    common.set_blas_threads(args.threads)
    model, settings = parse_settings(args.settings)
    train_and_save(args.train, args.dev, model, settings, args.model, args.history,
                   progress=sys.stderr.isatty())


if __name__ == "__main__":
    sys.exit(run_main(main))
