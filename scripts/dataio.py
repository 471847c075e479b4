"""Reading and checking the competition's CSV files, submissions and split arrays.

Everything a user can get wrong in a file is reported as a :class:`common.UserError`
whose one-line message names the file, where in it (row and line, or column) the
problem is, what is wrong and what to do about it.

Decisions worth knowing:

* Pixels and labels must be written as plain whole numbers (``12``). A decimal such
  as ``12.5`` is refused, and so is ``12.0``: the competition files never contain
  one, so a decimal point means the file went through a tool that changed its
  types (often because it met a missing value), and silently truncating would hide
  that. Signs (``+12``), spaces around numbers and quoted numbers are refused too.
* ``train.csv`` must have ``label`` as its first column followed by
  ``pixel0..pixel783``; ``test.csv`` has only the pixel columns.
* Windows line endings, a UTF-8 byte-order mark and blank lines at the end of the
  file are fine; a blank line between data rows is not.
* A ``.gz`` file holding gzip data and a ``.zip`` file holding one CSV are read
  directly. Compressed data under any other name, or any other compression
  format, is refused with a hint to decompress it.
* Rows repeated verbatim are kept, with a logged warning giving their count.

Reading goes through pandas' C parser only after a cheap check that the data holds
nothing but digits, commas and newlines; anything unusual is handed to a slower
line-by-line pass whose only job is to find and describe the first problem.
"""
from __future__ import annotations

import gzip
import io
import logging
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from common import UserError, atomic_path, save_npz

log = logging.getLogger("digits.dataio")

N_PIXELS = 784
N_CLASSES = 10
PIXEL_COLUMNS = [f"pixel{i}" for i in range(N_PIXELS)]
SUBMISSION_COLUMNS = ["ImageId", "Label"]

_UTF8_BOM = b"\xef\xbb\xbf"
# Leading bytes of formats that are not plain text: (magic, description, what to do).
_MAGIC = [
    (b"\x1f\x8b", "gzip-compressed data", "decompress it (gunzip) or give it a .csv.gz name"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx file is one too)",
     "unzip it or give it a .zip name; an Excel file must be saved as CSV"),
    (b"PK\x05\x06", "an empty zip archive", "download or export the file again"),
    (b"BZh", "bzip2-compressed data", "decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "decompress it first (unxz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first (7z x)"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it first (unrar x)"),
    (b"\x28\xb5\x2f\xfd", "zstandard-compressed data", "decompress it first (unzstd)"),
    (b"\xff\xfe\x00\x00", "UTF-32 text", "save it as UTF-8 CSV"),
    (b"\xff\xfe", "UTF-16 text", "save it as UTF-8 CSV"),
    (b"\xfe\xff", "UTF-16 text", "save it as UTF-8 CSV"),
]
_NAN_WORDS = {"nan", "-nan", "+nan", "na", "n/a", "nat", "null", "none", "<na>", "#n/a", "missing", "?"}
_PLAIN_LINE = re.compile(rb"[0-9]{1,3}(?:,[0-9]{1,3})*")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


# --------------------------------------------------------------------------- raw bytes

def _show(raw: bytes | str, limit: int = 24) -> str:
    """A cell or header name, quoted and shortened, safe to put in a one-line message."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def _sniff(data: bytes) -> tuple[str, str] | None:
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            return what, todo
    if len(data) > 262 and data[257:262] == b"ustar":
        return "a tar archive", "extract it first (tar xf)"
    if b"\x00" in data[:4096]:
        return "binary data (it contains NUL bytes; UTF-16 text looks like this)", "save it as a UTF-8 CSV"
    return None


def _refuse_if_packed(data: bytes, name: str, inside: str = "") -> None:
    found = _sniff(data)
    if found:
        what, todo = found
        raise UserError(f"{name}: {inside}looks like {what}, not a CSV file; {todo}")


def _refuse_misnamed(data: bytes, name: str, magic: bytes, suffix: str, what: str) -> None:
    if not data.startswith(magic):
        found = _sniff(data)
        looks = found[0] if found else "plain text"
        raise UserError(f"{name}: is named {suffix} but holds {looks}, not {what}; "
                        "rename it to match its content")


def plain_bytes(path: str | os.PathLike) -> bytes:
    """The file's content, decompressed if it is a ``.gz`` or single-CSV ``.zip`` file; refuses other packing."""
    return _read_bytes(path)[0]


def _read_bytes(path: str | os.PathLike) -> tuple[bytes, str]:
    """The file's text bytes (decompressed when its name and content agree) and its display name."""
    name = str(path)
    file = Path(path)
    if not file.exists():
        raise UserError(f"{name}: file not found; check the path (or rerun the rule that makes it)")
    if file.is_dir():
        raise UserError(f"{name}: is a folder, not a CSV file; point at the .csv file inside it")
    try:
        data = file.read_bytes()
    except OSError as error:
        raise UserError(f"{name}: cannot be read ({error.strerror or error}); check its permissions") from None
    lower = name.lower()
    if lower.endswith(".gz"):
        _refuse_misnamed(data, name, b"\x1f\x8b", ".gz", "gzip data")
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise UserError(f"{name}: the gzip data is corrupt or cut short ({error}); "
                            "download or copy the file again") from None
        _refuse_if_packed(data, name, "after gunzip, the content ")
    elif lower.endswith(".zip"):
        _refuse_misnamed(data, name, b"PK", ".zip", "a zip archive")
        data, member = _unzip_single_csv(data, name)
        name = f"{name} ({member})"
        _refuse_if_packed(data, name, "the zipped file ")
    else:
        _refuse_if_packed(data, name)
    return data, name


def _unzip_single_csv(data: bytes, name: str) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist()
                       if not info.is_dir() and not info.filename.startswith("__MACOSX/")
                       and not Path(info.filename).name.startswith("._")]
            if len(members) != 1:
                listed = ", ".join(info.filename for info in members[:5]) or "nothing"
                raise UserError(f"{name}: the zip archive holds {len(members)} files ({listed}), "
                                "expected exactly one CSV; extract the one you mean and point at it")
            member = members[0].filename
            if not member.lower().endswith(".csv"):
                raise UserError(f"{name}: the zip archive holds {member!r}, not a .csv file; "
                                "extract it and point at the CSV file")
            return archive.read(member), member
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
        raise UserError(f"{name}: the zip archive is corrupt, cut short or encrypted ({error}); "
                        "download or copy the file again") from None


def _split_header(data: bytes, name: str) -> tuple[bytes, bytes]:
    """(header line, body) with a BOM, CRLF line endings and trailing blank lines removed."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        stray = data.find(b"\r")
        if stray >= 0:
            line = data.count(b"\n", 0, stray) + 1
            raise UserError(f"{name}: line {line}: carriage return without a newline (old Mac line endings?); "
                            "save the file with \\n or \\r\\n line endings")
    data = data.rstrip(b" \t\n")
    if not data.strip():
        raise UserError(f"{name}: the file is empty; download or export it again")
    header, newline, body = data.partition(b"\n")
    if not newline:
        raise UserError(f"{name}: has a header line but no data rows; download or export it again")
    return header, body


# --------------------------------------------------------------------------- header

def _header_names(header: bytes, name: str) -> list[str]:
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: line 1 (header) is not UTF-8 text; save the file as UTF-8 CSV") from None
    return [field.strip().strip('"').strip() for field in text.split(",")]


def _check_header(names: list[str], name: str, kind: str) -> None:
    where = f"{name}: line 1 (header)"
    expected = "label,pixel0,...,pixel783" if kind == "train" else "pixel0,...,pixel783"
    if names and all(_DECIMAL.fullmatch(field) for field in names if field):
        raise UserError(f"{where}: looks like a data row, not a header; add the header line {expected}")
    if kind == "test" and "label" in names:
        raise UserError(f"{where}: has a 'label' column, which test files do not have; "
                        "train and test look swapped: pass the unlabelled test.csv here")
    if kind == "train" and "label" not in names:
        if names == PIXEL_COLUMNS:
            raise UserError(f"{where}: no 'label' column, only pixel columns, as in test.csv; "
                            "train and test look swapped: pass the labelled train.csv here")
        similar = [field for field in names if field.lower() == "label"]
        if similar:
            raise UserError(f"{where}: column {_show(similar[0])} must be named 'label' (lower case); "
                            f"fix the header to {expected}")
        raise UserError(f"{where}: no 'label' column; a training file needs the header {expected}")
    if kind == "train" and names[0] != "label":
        raise UserError(f"{where}: 'label' is column {names.index('label') + 1} but must be the first column; "
                        f"reorder the columns to {expected}")
    pixels = names[1:] if kind == "train" else names
    offset = len(names) - len(pixels)
    for index, field in enumerate(names):
        if not field:
            raise UserError(f"{where}, column {index + 1}: empty column name (a stray comma?); "
                            f"fix the header to {expected}")
    if len(pixels) != N_PIXELS:
        raise UserError(f"{where}: has {len(pixels)} pixel columns, expected {N_PIXELS} (pixel0..pixel783); "
                        f"use the competition's file or fix the header to {expected}")
    for index, (field, wanted) in enumerate(zip(pixels, PIXEL_COLUMNS)):
        if field != wanted:
            raise UserError(f"{where}, column {index + offset + 1}: named {_show(field)}, expected {wanted!r}; "
                            f"fix the header to {expected}")


# --------------------------------------------------------------------------- cells

def _cell_problem(cell: bytes, is_label: bool) -> str | None:
    """What is wrong with one cell and what to do, or None if it is a valid value."""
    limit, kind = (N_CLASSES - 1, "label") if is_label else (255, "pixel")
    allowed = f"whole numbers 0-{limit}"
    text = cell.decode("utf-8", "replace")
    if text == "":
        return f"empty cell; fill in a {kind} value ({allowed}) or delete the row"
    if text.strip() == "":
        return f"blank cell {_show(text)}; fill in a {kind} value ({allowed}) or delete the row"
    if text.strip().lower() in _NAN_WORDS:
        return f"missing value {_show(text)}; fill in a {kind} value ({allowed}) or delete the row"
    if text != text.strip():
        return f"cell {_show(text)} has spaces around the number; write plain numbers without spaces"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return f"cell {_show(text)} is quoted; write plain numbers without quotes"
    if _INTEGER.fullmatch(text):
        value = int(text)
        if not 0 <= value <= limit:
            return f"{kind} value {_show(text)} is outside 0-{limit}; fix or delete the row"
        if text[0] == "+":
            return f"cell {_show(text)} has a plus sign; write plain digits"
        return None
    if _DECIMAL.fullmatch(text):
        value = float(text)
        if value.is_integer():
            return (f"{kind} value {_show(text)} is written as a decimal; write {allowed} without a "
                    "decimal point (convert the column to integers before saving)")
        return f"{kind} value {_show(text)} is not a whole number; {kind}s must be {allowed}"
    return f"non-numeric cell {_show(text)}; {kind}s must be {allowed}"


def _diagnose(name: str, body: bytes, columns: list[str], kind: str) -> NoReturn:
    """Find the first problem in the data rows, in file order, and raise it."""
    ncols = len(columns)
    has_label = kind == "train"
    limits = np.full(ncols, 255, dtype=np.int16)
    if has_label:
        limits[0] = N_CLASSES - 1
    for row, line in enumerate(body.split(b"\n"), start=1):
        where = f"{name}: row {row} (line {row + 1})"
        if not line.strip():
            raise UserError(f"{where}: blank line between data rows; delete it")
        cells = line.split(b",")
        if len(cells) != ncols:
            if len(cells) < ncols:
                detail = f"the cells from column {columns[len(cells)]} on are missing"
            else:
                detail = f"{len(cells) - ncols} extra cell(s) after column {columns[-1]}"
            raise UserError(f"{where}: has {len(cells)} cells but the header has {ncols} ({detail}); "
                            "fix or delete this row")
        if _PLAIN_LINE.fullmatch(line):
            values = np.array(cells).astype(np.int16)
            bad = np.flatnonzero(values > limits)
            if bad.size == 0:
                continue
            candidates = bad[:1]
        else:
            candidates = range(ncols)
        for column in candidates:
            problem = _cell_problem(cells[column], has_label and column == 0)
            if problem:
                raise UserError(f"{where}, column {columns[column]}: {problem}")
    raise UserError(f"{name}: could not be read as a digits CSV although no single bad cell was found; "
                    "export the file again as plain CSV")


# --------------------------------------------------------------------------- reading

def read_digits_csv(path: str | os.PathLike, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``train.csv`` (kind "train") or ``test.csv`` (kind "test") in the competition's format.

    Returns ``(X, y)``: X uint8 of shape (n, 784); y uint8 of shape (n,) for train, None for test.
    Raises UserError, naming the file, row and column, for anything that is not such a file.
    """
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test', not {kind!r}")
    data, name = _read_bytes(path)
    header, body = _split_header(data, name)
    del data
    names = _header_names(header, name)
    _check_header(names, name, kind)
    columns = names
    ncols = len(columns)
    n_rows = body.count(b"\n") + 1

    table = None
    if not body.translate(None, b"0123456789,\n"):
        try:
            frame = pd.read_csv(io.BytesIO(body), header=None, dtype=np.int16, engine="c",
                                na_filter=False, skip_blank_lines=False)
            table = frame.to_numpy()
        except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
            table = None
    if table is None or table.shape != (n_rows, ncols) or table.max(initial=0) > 255 or (
            kind == "train" and table[:, 0].max() >= N_CLASSES):
        _diagnose(name, body, columns, kind)
    del body
    table = np.ascontiguousarray(table, dtype=np.uint8)

    if kind == "train":
        labels = table[:, 0].copy()
        present = np.unique(labels)
        if present.size < 2:
            raise UserError(f"{name}: column label: all {n_rows} rows have label {int(present[0])}, so there is "
                            "nothing to learn; use a training file with at least two different digits")
    duplicates = n_rows - np.unique(table.view(np.dtype((np.void, ncols))).ravel()).size
    if duplicates:
        log.warning("%s: %d row(s) repeat an earlier row exactly; they are kept", name, duplicates)
    if kind == "train":
        return np.ascontiguousarray(table[:, 1:]), labels
    return table, None


# --------------------------------------------------------------------------- submissions

def _read_submission_file(path: str | os.PathLike) -> tuple[str, pd.DataFrame]:
    """The header line as written and the rows as strings."""
    data, name = _read_bytes(path)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    data = data.replace(b"\r\n", b"\n").rstrip(b" \t\n")
    if not data.strip():
        raise UserError(f"{name}: the file is empty; write the submission again")
    header = data.partition(b"\n")[0].decode("utf-8", "replace")
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, engine="c")
    except (ValueError, pd.errors.ParserError) as error:
        detail = " ".join(str(error).split())
        raise UserError(f"{name}: cannot be parsed as CSV ({detail}); write it as ImageId,Label rows") from None
    return header, frame


def check_submission(df_or_path, n_expected: int | None, sample_path: str | os.PathLike | None = None,
                     path: str | None = None) -> pd.DataFrame:
    """Check a submission (a DataFrame or a CSV path) the way Kaggle would, before it is sent or scored.

    The header must be exactly ``ImageId,Label``, there must be ``n_expected`` rows (None: any
    number), ImageId must run 1..N in order and every Label must be a whole number 0-9. With ``sample_path``, the header and
    row count must also match that sample submission. ``path`` names a DataFrame in messages.
    Returns the submission as a DataFrame with int64 columns.
    """
    if isinstance(df_or_path, pd.DataFrame):
        name = path or "submission"
        frame = df_or_path
        header = ",".join(str(column) for column in frame.columns)
    else:
        name = str(df_or_path)
        header, frame = _read_submission_file(df_or_path)
    wanted = ",".join(SUBMISSION_COLUMNS)
    if header != wanted:
        raise UserError(f"{name}: line 1 (header): is {_show(header, 40)}, expected {wanted!r}; "
                        "write exactly that header")
    n = len(frame)
    if n_expected is not None and n != n_expected:
        raise UserError(f"{name}: has {n} rows, expected {n_expected} (one per test image); "
                        "predict every row of test.csv")
    # Compared as text, so that 3.0 (a float column) or " 3" is caught rather than coerced.
    ids = frame["ImageId"].astype(str)
    expected_ids = pd.Series(np.arange(1, n + 1).astype(str), index=ids.index)
    wrong = np.flatnonzero((ids != expected_ids).to_numpy())
    if wrong.size:
        row = int(wrong[0]) + 1
        raise UserError(f"{name}: row {row}, column ImageId: is {_show(ids.iloc[row - 1])}, expected {row}; "
                        f"ImageId must run 1..{n} in order")
    labels = frame["Label"].astype(str)
    wrong = np.flatnonzero(~labels.str.fullmatch(r"[0-9]").to_numpy(dtype=bool))
    if wrong.size:
        row = int(wrong[0]) + 1
        raise UserError(f"{name}: row {row}, column Label: {_show(labels.iloc[row - 1])} is not a digit 0-9; "
                        "write each prediction as a whole number 0-9")
    if sample_path is not None:
        sample_header, sample = _read_submission_file(sample_path)
        if sample_header != header:
            raise UserError(f"{name}: header {header!r} differs from {_show(sample_header, 40)} in {sample_path}; "
                            "make the header match the sample submission")
        if len(sample) != n:
            raise UserError(f"{name}: has {n} rows but {sample_path} has {len(sample)}; "
                            "predict exactly the rows of the test.csv that goes with that sample")
    return pd.DataFrame({"ImageId": np.arange(1, n + 1, dtype=np.int64),
                         "Label": labels.astype(np.int64).to_numpy()})


def write_submission(path: str | os.PathLike, labels, *, n_expected: int | None = None,
                     sample_path: str | os.PathLike | None = None) -> None:
    """Write predicted labels as ``ImageId,Label`` (ImageId 1..N), after checking them, atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    frame = pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1, dtype=np.int64), "Label": labels})
    frame = check_submission(frame, len(labels) if n_expected is None else n_expected,
                             sample_path=sample_path, path=str(path))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


# --------------------------------------------------------------------------- split arrays

def save_split(path: str | os.PathLike, X: np.ndarray, y: np.ndarray) -> None:
    """Write a split file (``X`` uint8 (n, 784), ``y`` uint8 (n,)) atomically."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != N_PIXELS:
        raise ValueError(f"X must be uint8 of shape (n, {N_PIXELS}), got {X.dtype} {X.shape}")
    if y.dtype != np.uint8 or y.shape != (X.shape[0],):
        raise ValueError(f"y must be uint8 of shape ({X.shape[0]},), got {y.dtype} {y.shape}")
    save_npz(path, X=X, y=y)


def load_split(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a split file written by :func:`save_split`, refusing anything else with a UserError."""
    name = str(path)
    rerun = "delete it and rerun the split rule"
    if not Path(path).is_file():
        raise UserError(f"{name}: file not found; rerun the split rule")
    with open(path, "rb") as handle:
        # np.load would take any other bytes for a pickle and say so, which misleads.
        if handle.read(4) != b"PK\x03\x04":
            raise UserError(f"{name}: not a .npz file (no zip signature); {rerun}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("X", "y") if key not in archive.files]
            if missing:
                raise UserError(f"{name}: missing array(s) {', '.join(missing)} (has {', '.join(archive.files) or 'none'}); "
                                f"{rerun}")
            X, y = archive["X"], archive["y"]
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(f"{name}: not a readable .npz file ({' '.join(str(error).split())}); {rerun}") from None
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != N_PIXELS:
        raise UserError(f"{name}: X is {X.dtype} of shape {X.shape}, expected uint8 (n, {N_PIXELS}); {rerun}")
    if y.dtype != np.uint8 or y.shape != (X.shape[0],):
        raise UserError(f"{name}: y is {y.dtype} of shape {y.shape}, expected uint8 ({X.shape[0]},); {rerun}")
    if y.size and y.max() >= N_CLASSES:
        raise UserError(f"{name}: y holds label {int(y.max())}, outside 0-9; {rerun}")
    return X, y
