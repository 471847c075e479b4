"""Plumbing shared by every rule script: user-facing errors, logging, atomic writes.

A rule script's ``main(argv)`` is wrapped by :func:`run_main`, which turns a
:class:`UserError` (or Ctrl-C / SIGTERM) into one line on stderr and in the
rule's log, and a non-zero exit. Outputs are written through
:func:`atomic_path`, so an interrupted run leaves either the old file or the
complete new one, never a truncated one.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

log = logging.getLogger("digits")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix. Its message is shown as one line, without a traceback."""


class Interrupted(BaseException):
    """Raised from the SIGTERM handler so that cleanup code runs as it does for Ctrl-C."""


def setup_logging(log_path: str | os.PathLike | None) -> None:
    """Send everything to the rule's log file, and warnings and errors to the console too."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
        console.setLevel(logging.WARNING)
    root.addHandler(console)


def _raise_interrupted(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Interrupted(f"received signal {signum}")


def run_main(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Run a script's ``main`` and map failures to a one-line message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        main(argv)
    except UserError as error:
        log.error("%s", error)
        return EXIT_USER_ERROR
    except (KeyboardInterrupt, Interrupted):
        log.error("interrupted; no partial output was left behind, rerun to resume")
        return EXIT_INTERRUPTED
    return 0


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory so that the final
    ``os.replace`` is atomic. On any exception, including Ctrl-C, it is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; give outputs the mode any new file would get.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def set_blas_threads(threads: int) -> None:
    """Limit the BLAS thread pool to the rule's ``threads``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(1, int(threads)), user_api="blas")


def save_npz(path: str | os.PathLike, compress: bool = False, **arrays) -> None:
    """Write arrays as an ``.npz`` that is byte-identical for identical arrays, atomically.

    ``np.savez`` stamps each zip member with the current time, so two runs of the
    same config would differ; here every member gets a fixed timestamp. Object
    arrays are refused so that the file always loads with ``allow_pickle=False``.
    """
    import zipfile

    import numpy as np

    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=compression) as archive:
            for name, value in arrays.items():
                array = np.asanyarray(value)
                if array.dtype.hasobject:
                    raise TypeError(f"save_npz: array {name!r} holds Python objects")
                member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                member.compress_type = compression
                with archive.open(member, "w", force_zip64=True) as handle:
                    np.lib.format.write_array(handle, array, allow_pickle=False)
