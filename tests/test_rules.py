"""The rule scripts split, evaluate, predict, score, submit and record_config: functions and CLIs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import evaluate
import score
import split
import submit
import summary
from common import UserError
from dataio import load_split
from download import build_sample
from numpynet import ModelSettings, TrainSettings, build_network, save_model, train

ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def assert_one_line_failure(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """The bundled sample in the competition's layout: 3,000 labelled and 2,000 unlabelled digits."""
    outdir = tmp_path_factory.mktemp("data")
    build_sample(outdir)
    return outdir


@pytest.fixture(scope="module")
def splits(sample, tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("split")
    result = run_script("split", "--input", sample / "train.csv", "--dev-fraction", 0.1, "--seed", 0,
                        "--train-out", outdir / "train.npz", "--dev-out", outdir / "dev.npz",
                        "--log", outdir / "split.log")
    assert result.returncode == 0, result.stderr
    return outdir


@pytest.fixture(scope="module")
def model_path(splits, tmp_path_factory) -> Path:
    X, y = load_split(splits / "train.npz")
    X_dev, y_dev = load_split(splits / "dev.npz")
    model, settings = ModelSettings(hidden=(64,)), TrainSettings(epochs=5, early_stopping=False)
    network = build_network(model, seed=0)
    train(network, X, y, X_dev, y_dev, settings)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_model(path, network, model, settings)
    return path


# ----------------------------------------------------------------------------------------- split

def test_stratified_split_keeps_class_shares_and_covers_every_row():
    labels = np.repeat(np.arange(10, dtype=np.uint8), [30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    train_rows, dev_rows = split.stratified_split(labels, 0.2, seed=3)
    assert len(np.intersect1d(train_rows, dev_rows)) == 0
    assert np.array_equal(np.sort(np.concatenate([train_rows, dev_rows])), np.arange(len(labels)))
    dev_counts = np.bincount(labels[dev_rows], minlength=10)
    assert np.array_equal(dev_counts, np.round(0.2 * np.bincount(labels)).astype(int))


def test_stratified_split_is_seeded():
    labels = np.tile(np.arange(10, dtype=np.uint8), 20)
    first = split.stratified_split(labels, 0.25, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, split.stratified_split(labels, 0.25, seed=1)))
    assert not np.array_equal(first[1], split.stratified_split(labels, 0.25, seed=2)[1])


def test_stratified_split_keeps_a_row_of_a_rare_class_in_train():
    labels = np.array([0, 0, 0, 0, 1], dtype=np.uint8)
    train_rows, dev_rows = split.stratified_split(labels, 0.5, seed=0)
    assert 4 in train_rows and len(dev_rows) == 2


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_stratified_split_refuses_fractions_outside_zero_one(fraction):
    with pytest.raises(UserError, match="dev fraction"):
        split.stratified_split(np.arange(10, dtype=np.uint8), fraction, seed=0)


def test_split_cli_writes_stratified_arrays(splits, sample):
    X, y = load_split(splits / "train.npz")
    X_dev, y_dev = load_split(splits / "dev.npz")
    assert X.dtype == np.uint8 and X.shape[1] == 784
    assert len(y) + len(y_dev) == 3000 and abs(len(y_dev) - 300) <= 10
    assert np.bincount(y_dev, minlength=10).min() >= 25
    assert "split 3000 rows" in (splits / "split.log").read_text()


def test_split_cli_refuses_a_broken_csv_and_writes_nothing(tmp_path):
    broken = tmp_path / "train.csv"
    broken.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n")
    result = run_script("split", "--input", broken, "--train-out", tmp_path / "t.npz",
                        "--dev-out", tmp_path / "d.npz")
    assert_one_line_failure(result, str(broken))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


# -------------------------------------------------------------------------------------- evaluate

def test_metrics_on_a_hand_made_case():
    labels = np.array([0, 0, 1, 1, 2], dtype=np.uint8)
    probabilities = np.full((5, 3), 0.1, dtype=np.float32)
    for row, predicted in enumerate([0, 1, 1, 1, 0]):
        probabilities[row, predicted] = 0.8
    metrics = evaluate.classification_metrics(probabilities, labels)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["per_class"]["1"] == {"precision": pytest.approx(2 / 3, abs=1e-6), "recall": 1.0,
                                         "f1": pytest.approx(0.8, abs=1e-6), "support": 2}
    assert metrics["per_class"]["2"]["recall"] == 0.0
    expected_loss = -np.mean(np.log([0.8, 0.1, 0.8, 0.8, 0.1]))
    assert metrics["log_loss"] == pytest.approx(expected_loss, abs=1e-5)


def test_log_loss_of_a_certain_miss_is_finite():
    assert np.isfinite(evaluate.log_loss(np.array([[1.0, 0.0]]), np.array([1])))


def test_evaluate_cli_agrees_with_its_own_files(model_path, splits, tmp_path):
    out = {name: tmp_path / name for name in ("metrics.json", "pred.npz", "confusion.csv")}
    result = run_script("evaluate", "--model", model_path, "--dev", splits / "dev.npz",
                        "--metrics", out["metrics.json"], "--predictions", out["pred.npz"],
                        "--confusion", out["confusion.csv"])
    assert result.returncode == 0, result.stderr
    metrics = json.loads(out["metrics.json"].read_text())
    with np.load(out["pred.npz"], allow_pickle=False) as saved:
        predicted = saved["probabilities"].argmax(axis=1)
        assert metrics["accuracy"] == pytest.approx(np.mean(predicted == saved["labels"]), abs=1e-6)
    confusion = pd.read_csv(out["confusion.csv"], index_col="true_label").to_numpy()
    assert confusion.tolist() == metrics["confusion_matrix"]
    assert confusion.sum() == metrics["n"] and metrics["accuracy"] > 0.8


def test_evaluate_cli_refuses_a_corrupt_model(splits, tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_script("evaluate", "--model", bad, "--dev", splits / "dev.npz", "--metrics", tmp_path / "m.json",
                        "--predictions", tmp_path / "p.npz", "--confusion", tmp_path / "c.csv")
    assert_one_line_failure(result, str(bad))
    assert not (tmp_path / "m.json").exists()


# --------------------------------------------------------------------------------- predict/score

def test_predict_and_score_cli(model_path, sample, tmp_path):
    submission = tmp_path / "submission.csv"
    result = run_script("predict", "--model", model_path, "--test", sample / "test.csv",
                        "--sample-submission", sample / "sample_submission.csv", "--out", submission)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(submission)
    assert list(frame.columns) == ["ImageId", "Label"]
    assert frame["ImageId"].tolist() == list(range(1, 2001))
    assert frame["Label"].between(0, 9).all() and frame["Label"].dtype == np.int64

    scored = tmp_path / "score.json"
    result = run_script("score", "--submission", submission, "--solution", sample / "solution.csv", "--out", scored)
    assert result.returncode == 0, result.stderr
    value = json.loads(scored.read_text())
    truth = pd.read_csv(sample / "solution.csv")["Label"].to_numpy()
    assert value["accuracy"] == pytest.approx(np.mean(frame["Label"].to_numpy() == truth), abs=1e-6)
    assert value["n"] == 2000 and value["accuracy"] > 0.8


def test_predict_refuses_train_and_test_swapped(model_path, sample, tmp_path):
    submission = tmp_path / "submission.csv"
    result = run_script("predict", "--model", model_path, "--test", sample / "train.csv", "--out", submission)
    assert_one_line_failure(result, "train.csv", "label")
    assert not submission.exists()


def test_predict_refuses_a_sample_submission_of_another_size(model_path, sample, tmp_path):
    short = tmp_path / "sample_submission.csv"
    short.write_text("ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, 11)))
    submission = tmp_path / "submission.csv"
    result = run_script("predict", "--model", model_path, "--test", sample / "test.csv",
                        "--sample-submission", short, "--out", submission)
    assert_one_line_failure(result, "rows")
    assert not submission.exists()


def test_score_counts_matches_by_image_id():
    solution = pd.DataFrame({"ImageId": [1, 2, 3, 4], "Label": [1, 2, 3, 4]})
    submission = pd.DataFrame({"ImageId": [1, 2, 3, 4], "Label": [1, 2, 0, 4]})
    assert score.score_submission(submission, solution) == {"accuracy": 0.75, "correct": 3, "n": 4}


# ---------------------------------------------------------------------------------------- submit

def test_submit_sends_a_valid_file_with_the_configured_message(sample, tmp_path):
    good = tmp_path / "submission.csv"
    good.write_text("ImageId,Label\n" + "".join(f"{i},7\n" for i in range(1, 2001)))
    calls = []

    def fake_kaggle(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="Successfully submitted", stderr="")

    receipt = submit.submit(str(good), str(sample / "sample_submission.csv"), "digit-recognizer",
                            "my message; $(rm -rf /)", runner=fake_kaggle)
    assert calls[0][1:] == ["competitions", "submit", "-c", "digit-recognizer", "-f", str(good),
                            "-m", "my message; $(rm -rf /)"]
    assert receipt["kaggle_output"] == "Successfully submitted"


@pytest.mark.parametrize("body", [
    "ImageId,Label\n" + "".join(f"{i},7\n" for i in range(1, 1999)),     # rows missing
    "Id,Label\n" + "".join(f"{i},7\n" for i in range(1, 2001)),          # wrong header
    "ImageId,Label\n" + "".join(f"{i},7.5\n" for i in range(1, 2001)),   # non-integer labels
])
def test_submit_never_sends_a_malformed_file(sample, tmp_path, body):
    bad = tmp_path / "submission.csv"
    bad.write_text(body)
    calls = []
    with pytest.raises(UserError):
        submit.submit(str(bad), str(sample / "sample_submission.csv"), "digit-recognizer", "m",
                      runner=lambda *a, **k: calls.append(a))
    assert calls == []


def test_submit_reports_kaggle_refusal_with_what_to_do(sample, tmp_path):
    good = tmp_path / "submission.csv"
    good.write_text("ImageId,Label\n" + "".join(f"{i},7\n" for i in range(1, 2001)))
    refused = lambda command, **kwargs: subprocess.CompletedProcess(command, 1, stdout="", stderr="403 Forbidden")
    with pytest.raises(UserError, match="accept the rules"):
        submit.submit(str(good), str(sample / "sample_submission.csv"), "digit-recognizer", "m", runner=refused)


def test_submit_cli_refuses_a_malformed_file_without_a_receipt(sample, tmp_path):
    bad = tmp_path / "submission.csv"
    bad.write_text("ImageId,Label\n1,3\n")
    receipt = tmp_path / "submitted.json"
    result = run_script("submit", "--submission", bad, "--sample-submission", sample / "sample_submission.csv",
                        "--message", "m", "--receipt", receipt)
    assert_one_line_failure(result, str(bad), "rows")
    assert not receipt.exists()


# ------------------------------------------------------------------------------- config, summary

def test_record_config_writes_yaml(tmp_path):
    out = tmp_path / "config.yaml"
    result = run_script("record_config", "--settings", json.dumps({"train": {"epochs": 3}}), "--out", out)
    assert result.returncode == 0 and yaml.safe_load(out.read_text()) == {"train": {"epochs": 3}}
    result = run_script("record_config", "--settings", "{not json", "--out", tmp_path / "other.yaml")
    assert_one_line_failure(result, "--settings")


def test_summary_names_the_submission_and_its_score(tmp_path):
    (tmp_path / "submission.csv").write_text("ImageId,Label\n1,1\n")
    (tmp_path / "score.json").write_text(json.dumps({"accuracy": 0.9, "correct": 9, "n": 10}))
    text = summary.summary(tmp_path)
    assert str((tmp_path / "submission.csv").resolve()) in text and "0.9000" in text
