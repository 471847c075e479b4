"""Interruptions and failures of real runs: signals during training, and errors inside Snakemake."""
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import atomic_path
from dataio import save_split
from download import build_sample
from split import stratified_split
from dataio import read_digits_csv

ROOT = Path(__file__).resolve().parent.parent
LONG_TRAINING = json.dumps({"model": {"hidden": [512, 512]}, "train": {"epochs": 500, "early_stopping": False}})


@pytest.fixture(scope="module")
def split_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("split")
    build_sample(folder / "data")
    X, y = read_digits_csv(folder / "data" / "train.csv", "train")
    train_rows, dev_rows = stratified_split(y, 0.1, seed=0)
    save_split(folder / "train.npz", X[train_rows], y[train_rows])
    save_split(folder / "dev.npz", X[dev_rows], y[dev_rows])
    return folder


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to get going")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_training_leaves_no_output_and_the_rerun_works(split_files, tmp_path, signum):
    out = tmp_path / "results"
    log = tmp_path / "train.log"
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "--train", str(split_files / "train.npz"),
               "--dev", str(split_files / "dev.npz"), "--threads", "1", "--model", str(out / "model.npz"),
               "--history", str(out / "history.csv"), "--log", str(log)]
    process = subprocess.Popen([*command, "--settings", LONG_TRAINING], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: log.exists() and "epoch 2/" in log.read_text())
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []

    quick = json.dumps({"model": {"hidden": [16]}, "train": {"epochs": 2}})
    assert subprocess.run([*command, "--settings", quick], capture_output=True).returncode == 0
    assert sorted(path.name for path in out.iterdir()) == ["history.csv", "model.npz"]


def test_a_signal_during_a_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "submission.csv"
    target.write_text("old and complete\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise KeyboardInterrupt
    assert target.read_text() == "old and complete\n"
    assert [path.name for path in tmp_path.iterdir()] == ["submission.csv"]


def test_atomic_outputs_get_the_mode_of_any_new_file(tmp_path):
    target = tmp_path / "metrics.json"
    old_mask = os.umask(0o022)
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failing_rule_reports_one_line_to_its_log_and_the_console(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    for name in ("Snakefile", "config.yaml"):
        (workdir / name).write_bytes((ROOT / name).read_bytes())
    for name in ("workflow", "scripts"):
        subprocess.run(["cp", "-r", str(ROOT / name), str(workdir / name)], check=True)
    data = tmp_path / "my data"
    build_sample(data)
    lines = (data / "train.csv").read_text().splitlines()
    lines[5] = lines[5].replace(",0,", ",300,", 1)
    (data / "train.csv").write_text("\n".join(lines) + "\n")

    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config",
                             f"data={{source: local, path: '{data}'}}"],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    # The local source checks the files as it copies them, so the download rule is the one to fail.
    logged = (workdir / "logs" / "download.log").read_text()
    error_lines = [line for line in logged.splitlines() if "ERROR" in line]
    assert len(error_lines) == 1 and "train.csv" in error_lines[0] and "row 5" in error_lines[0], logged
    assert "Traceback" not in logged
    message = error_lines[0].split("ERROR ", 1)[1]
    assert message in result.stdout + result.stderr
    assert not (workdir / "resources" / "data").exists() or not any((workdir / "resources" / "data").iterdir())
    # The user's own folder is untouched.
    assert (data / "train.csv").read_text().splitlines()[5] == lines[5]
