"""The Snakefile, run for real by snakemake in a temporary copy of the workflow.

One full run on the bundled sample with a tiny network, then dry runs that show
what a change would rerun, and why.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TINY = {
    "model": {"hidden": [32]},
    "train": {"epochs": 3, "batch_size": 64},
    "threads": 1,
}
EVERY_RULE = {"download", "split", "train", "evaluate", "predict", "score", "plots", "record_config"}


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", *args], cwd=workdir, capture_output=True,
                            text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned(workdir: Path, *args: str) -> dict[str, str]:
    """Rules a dry run would run, each with its first reason."""
    result = snakemake(workdir, "--dry-run", *args)
    jobs, rule = {}, None
    for line in (result.stdout + result.stderr).splitlines():
        match = re.match(r"^(?:local)?rule (\w+):", line)
        if match:
            rule = match.group(1)
        elif rule and line.strip().startswith("reason:"):
            jobs.setdefault(rule, line.split("reason:", 1)[1].strip())
    jobs.pop("all", None)
    return jobs


def directly_affected(workdir: Path, path: str) -> set[str]:
    """Rules that would rerun because of ``path`` itself, not only because an upstream rule reruns.

    A dry run gives one reason per job, and an upstream rerun hides the others, so the rules
    found so far are taken out of the allowed rules and the dry run is repeated.
    """
    allowed, direct = set(EVERY_RULE), set()
    while True:
        jobs = planned(workdir, "--allowed-rules", *sorted(allowed))
        found = {rule for rule, reason in jobs.items() if path in reason} - direct
        if not found:
            return direct
        direct |= found
        allowed -= found


def copy_workflow(destination: Path) -> Path:
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(ROOT / name, destination / name)
    for name in ("workflow", "scripts", "config"):
        shutil.copytree(ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((destination / "config.yaml").read_text())
    for section, values in TINY.items():
        config[section] = {**config[section], **values} if isinstance(values, dict) else values
    (destination / "config.yaml").write_text(yaml.safe_dump(config))
    return destination


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A workflow copy that has been run to completion once."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    snakemake(workdir)
    return workdir


@pytest.fixture
def workdir(built, tmp_path) -> Path:
    """A private copy of the finished run, so that a test may change files and metadata."""
    copy = tmp_path / "run"
    shutil.copytree(built, copy, symlinks=True)
    # copytree keeps mtimes (copy2); snakemake's metadata is keyed by relative path, so it carries over.
    return copy


def test_full_run_writes_every_output(built):
    for path in ("results/submission.csv", "results/metrics.json", "results/score.json", "results/model.npz",
                 "results/history.csv", "results/config.yaml", "results/split/train.npz",
                 "resources/data/solution.csv", "results/plots/training_curves.png"):
        assert (built / path).stat().st_size > 0, path
    for rule in EVERY_RULE:
        assert (built / "logs" / f"{rule}.log").exists(), rule
        assert (built / "logs" / "benchmarks" / f"{rule}.tsv").exists(), rule
    lines = (built / "results/submission.csv").read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 2001


def test_second_run_does_nothing(workdir):
    assert planned(workdir) == {}
    result = snakemake(workdir)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_training_hyperparameter_reruns_from_train(workdir):
    jobs = planned(workdir, "--config", "train={epochs: 4, batch_size: 64}")
    assert {"train", "evaluate", "predict", "score"} <= set(jobs)
    assert "download" not in jobs and "split" not in jobs
    assert "params" in jobs["train"].lower()


def test_swapped_values_are_seen(workdir):
    # Same set of values, different keys: Snakemake's own params comparison would miss this.
    (workdir / "swap.yaml").write_text(yaml.safe_dump({"train": {"epochs": 64, "batch_size": 3}}))
    jobs = planned(workdir, "--configfile", "swap.yaml")
    assert "train" in jobs and "split" not in jobs


def test_architecture_change_reruns_train(workdir):
    jobs = planned(workdir, "--config", "model={hidden: [16]}")
    assert "train" in jobs and "download" not in jobs and "split" not in jobs


def test_dev_fraction_reruns_from_split(workdir):
    jobs = planned(workdir, "--config", "split={dev_fraction: 0.2}")
    assert {"split", "train", "evaluate", "predict", "score"} <= set(jobs)
    assert "download" not in jobs


def test_command_line_numbers_run_for_real(workdir):
    snakemake(workdir, "--config", "train={epochs: 2, learning_rate: 2.0e-3}", "split={dev_fraction: 0.15}")
    history = (workdir / "results/history.csv").read_text().splitlines()
    assert len(history) == 1 + 2
    recorded = yaml.safe_load((workdir / "results/config.yaml").read_text())
    assert recorded["split"]["dev_fraction"] == 0.15 and recorded["train"]["learning_rate"] == 0.002


@pytest.mark.parametrize("script, expected, untouched", [
    ("scripts/numpynet.py", {"train", "evaluate", "predict"}, {"download", "split", "plots", "score"}),
    ("scripts/split.py", {"split"}, {"download", "evaluate", "predict", "plots", "score"}),
    ("scripts/plots.py", {"plots"}, {"download", "split", "train", "evaluate", "predict", "score"}),
    ("scripts/score.py", {"score"}, {"download", "split", "train", "plots"}),
])
def test_editing_a_script_reruns_the_rules_that_use_it(workdir, script, expected, untouched):
    with open(workdir / script, "a", encoding="utf-8") as handle:
        handle.write("\n# an edit\n")
    direct = directly_affected(workdir, script)
    assert direct == expected
    assert not untouched & direct


def test_unknown_config_key_fails_with_one_line(workdir):
    result = snakemake(workdir, "--dry-run", "--config", "train={learnig_rate: 0.1}", check=False)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error: config")]
    assert errors == ["Error: config: unknown key 'train.learnig_rate'; did you mean 'train.learning_rate'? "
                      "(valid keys here: batch_size, beta1, beta2, early_stopping, epochs, gamma, learning_rate, "
                      "max_shift, momentum, monitor, optimizer, patience, schedule, seed, step_size, weight_decay)"]


def test_submit_is_not_in_the_default_target(workdir):
    assert "submit" not in planned(workdir, "--forceall")


def test_same_config_gives_byte_identical_outputs(built, tmp_path):
    again = copy_workflow(tmp_path)
    snakemake(again)
    for path in ("results/submission.csv", "results/model.npz", "results/metrics.json",
                 "results/split/train.npz", "resources/data/train.csv", "results/dev_predictions.npz"):
        assert (again / path).read_bytes() == (built / path).read_bytes(), path


def test_report_is_one_self_contained_file(workdir):
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(encoding="utf-8")
    for item in ("training_curves.png", "confusion_matrix.png", "worst_mistakes.png", "per_class_accuracy.png",
                 "metrics.json", "score.json", "config.yaml"):
        assert item in html, item
    # Self-contained: nothing is fetched when the page is opened.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)


def test_config_paths_reach_scripts_as_given_without_a_shell(workdir, tmp_path):
    folder = tmp_path / "a folder; $(touch PWNED) `touch PWNED2`"
    folder.mkdir()
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copy(workdir / "resources" / "data" / name, folder / name)
    snakemake(workdir, "download", "--config", f"data={{source: local, path: '{folder}'}}")
    assert not list(workdir.glob("PWNED*")) and not list(tmp_path.glob("PWNED*"))
    assert (workdir / "resources/data/train.csv").read_bytes() == (folder / "train.csv").read_bytes()
    assert not (workdir / "resources/data/solution.csv").exists()


def test_pipeline_confusion_matrix_and_plots_agree_with_metrics(built):
    import json

    from PIL import Image

    metrics = json.loads((built / "results/metrics.json").read_text())
    rows = (built / "results/confusion_matrix.csv").read_text().splitlines()[1:]
    assert [[int(v) for v in row.split(",")[1:]] for row in rows] == metrics["confusion_matrix"]
    correct = sum(metrics["confusion_matrix"][i][i] for i in range(10))
    assert correct / metrics["n"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    for name in ("training_curves", "confusion_matrix", "worst_mistakes", "per_class_accuracy"):
        with Image.open(built / "results/plots" / f"{name}.png") as image:
            assert image.format == "PNG" and min(image.size) >= 400, name
