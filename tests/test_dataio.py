"""dataio: every file the reader accepts and every file it refuses, submissions and split files."""
from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from common import UserError
from dataio import (
    N_PIXELS,
    check_submission,
    load_split,
    read_digits_csv,
    save_split,
    write_submission,
)

PIXELS = [f"pixel{i}" for i in range(N_PIXELS)]
TRAIN_HEADER = ",".join(["label", *PIXELS])
TEST_HEADER = ",".join(PIXELS)


def rows(n: int = 5, kind: str = "train", seed: int = 1) -> list[list[str]]:
    """Data rows as lists of cell strings; labels cycle so that train has several classes."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, N_PIXELS))
    table = [[str(v) for v in row] for row in pixels.tolist()]
    if kind == "train":
        table = [[str(i % 10), *row] for i, row in enumerate(table)]
    return table


def text_of(table: list[list[str]], kind: str = "train", header: str | None = None) -> str:
    if header is None:
        header = TRAIN_HEADER if kind == "train" else TEST_HEADER
    return "\n".join([header] + [",".join(row) for row in table]) + "\n"


@pytest.fixture
def put(tmp_path):
    """``put(content, name="train.csv")`` writes text or bytes and returns the path."""

    def write(content: str | bytes, name: str = "train.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


def refused(path: Path, kind: str, *fragments: str) -> str:
    """Read ``path``, expect a UserError whose one-line message names the file and holds ``fragments``."""
    with pytest.raises(UserError) as caught:
        read_digits_csv(path, kind)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def expected_arrays(table: list[list[str]], kind: str):
    values = np.array(table, dtype=np.int64).astype(np.uint8)
    if kind == "train":
        return values[:, 1:], values[:, 0]
    return values, None


# --------------------------------------------------------------------------- accepted

def test_reads_train(put):
    table = rows(6)
    X, y = read_digits_csv(put(text_of(table)), "train")
    want_X, want_y = expected_arrays(table, "train")
    assert X.dtype == np.uint8 and X.shape == (6, N_PIXELS) and X.flags.c_contiguous
    assert y.dtype == np.uint8 and y.shape == (6,)
    np.testing.assert_array_equal(X, want_X)
    np.testing.assert_array_equal(y, want_y)


def test_reads_test_without_labels(put):
    table = rows(4, "test")
    X, y = read_digits_csv(put(text_of(table, "test"), "test.csv"), "test")
    assert y is None
    np.testing.assert_array_equal(X, expected_arrays(table, "test")[0])


def test_reads_the_helpers_files(make_digits, write_digits):
    X, y = make_digits(8)
    got_X, got_y = read_digits_csv(write_digits("train.csv", X, y), "train")
    np.testing.assert_array_equal(got_X, X)
    np.testing.assert_array_equal(got_y, y)


def test_reads_windows_line_endings(put):
    table = rows(3)
    X, y = read_digits_csv(put(text_of(table).replace("\n", "\r\n")), "train")
    np.testing.assert_array_equal(X, expected_arrays(table, "train")[0])


def test_reads_utf8_byte_order_mark(put):
    table = rows(3)
    X, y = read_digits_csv(put(b"\xef\xbb\xbf" + text_of(table).encode()), "train")
    np.testing.assert_array_equal(y, expected_arrays(table, "train")[1])


def test_reads_bom_with_crlf(put):
    table = rows(3, "test")
    X, _ = read_digits_csv(put(b"\xef\xbb\xbf" + text_of(table, "test").replace("\n", "\r\n").encode(),
                               "test.csv"), "test")
    assert X.shape == (3, N_PIXELS)


@pytest.mark.parametrize("ending", ["\n", "\n\n", "\r\n\r\n", "\n  \n"])
def test_reads_trailing_blank_lines(put, ending):
    X, y = read_digits_csv(put(text_of(rows(3)) + ending), "train")
    assert X.shape == (3, N_PIXELS)


def test_reads_file_without_final_newline(put):
    X, y = read_digits_csv(put(text_of(rows(3)).rstrip("\n")), "train")
    assert X.shape == (3, N_PIXELS)


def test_reads_gzip_csv_gz(put):
    table = rows(4)
    path = put(gzip.compress(text_of(table).encode(), mtime=0), "train.csv.gz")
    X, y = read_digits_csv(path, "train")
    np.testing.assert_array_equal(X, expected_arrays(table, "train")[0])


def test_reads_zip_with_one_csv(put):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train.csv", text_of(rows(4)))
        archive.writestr("__MACOSX/._train.csv", b"junk")
    X, y = read_digits_csv(put(buffer.getvalue(), "train.zip"), "train")
    assert X.shape == (4, N_PIXELS)


def test_reads_leading_zeros(put):
    table = rows(3)
    table[1][5] = "007"
    X, _ = read_digits_csv(put(text_of(table)), "train")
    assert X[1, 4] == 7


def test_duplicate_rows_are_kept_with_a_warning(put, caplog):
    table = rows(4)
    table += [table[0], table[0], table[2]]
    path = put(text_of(table))
    with caplog.at_level(logging.WARNING):
        X, y = read_digits_csv(path, "train")
    assert X.shape == (7, N_PIXELS)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("3 row(s) repeat" in message and str(path) in message for message in warnings), warnings


def test_no_warning_without_duplicates(put, caplog):
    with caplog.at_level(logging.WARNING):
        read_digits_csv(put(text_of(rows(4))), "train")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_42k_rows_read_fast(tmp_path):
    # 1,000 distinct rows repeated 42 times: the competition's size, MNIST-like sparsity.
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(1000, N_PIXELS)) * (rng.random((1000, N_PIXELS)) < 0.2)
    labels = np.arange(1000) % 10
    block = "".join(",".join(map(str, row)) + "\n" for row in np.column_stack([labels, pixels]).tolist())
    path = tmp_path / "train.csv"
    path.write_text(TRAIN_HEADER + "\n" + block * 42)
    start = time.perf_counter()
    X, y = read_digits_csv(path, "train")
    seconds = time.perf_counter() - start
    assert X.shape == (42000, N_PIXELS) and y.shape == (42000,)
    np.testing.assert_array_equal(X[41999], pixels[999])
    assert seconds < 4.0, f"reading 42,000 rows took {seconds:.2f} s"


# --------------------------------------------------------------------------- refused: whole file

def test_refuses_missing_file(tmp_path):
    refused(tmp_path / "nowhere.csv", "train", "not found")


def test_refuses_empty_file(put):
    refused(put(b""), "train", "empty")


def test_refuses_whitespace_only_file(put):
    refused(put("\n\r\n  \n"), "train", "empty")


def test_refuses_header_only(put):
    refused(put(TRAIN_HEADER + "\n"), "train", "header", "no data rows")


def test_refuses_gzip_named_csv(put):
    path = put(gzip.compress(text_of(rows(2)).encode()), "train.csv")
    refused(path, "train", "gzip", "decompress")


def test_refuses_zip_named_csv(put):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", text_of(rows(2)))
    refused(put(buffer.getvalue(), "train.csv"), "train", "zip archive", "unzip")


@pytest.mark.parametrize("name, payload, looks", [
    ("bzip2", bz2.compress(b"label,pixel0\n1,2\n"), "bzip2"),
    ("xz", lzma.compress(b"label,pixel0\n1,2\n"), "xz"),
    ("7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40, "7-Zip"),
    ("rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 40, "RAR"),
])
def test_refuses_other_compression(put, name, payload, looks):
    refused(put(payload, f"train-{name}.csv"), "train", looks, "extract" if name in ("7z", "rar") else "decompress")


def test_refuses_bzip2_even_when_named_bz2(put):
    refused(put(bz2.compress(text_of(rows(2)).encode()), "train.csv.bz2"), "train", "bzip2", "bunzip2")


def test_refuses_gz_name_on_plain_text(put):
    refused(put(text_of(rows(2)), "train.csv.gz"), "train", "named .gz", "plain text")


def test_refuses_truncated_gzip(put):
    data = gzip.compress(text_of(rows(5)).encode())
    refused(put(data[: len(data) // 2], "train.csv.gz"), "train", "corrupt or cut short")


def test_refuses_gzip_inside_gzip(put):
    twice = gzip.compress(gzip.compress(text_of(rows(2)).encode()))
    refused(put(twice, "train.csv.gz"), "train", "after gunzip", "gzip")


def test_refuses_zip_with_two_files(put):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", text_of(rows(2)))
        archive.writestr("test.csv", text_of(rows(2, "test"), "test"))
    refused(put(buffer.getvalue(), "data.zip"), "train", "holds 2 files", "exactly one CSV")


def test_refuses_utf16(put):
    refused(put(text_of(rows(2)).encode("utf-16")), "train", "UTF-16", "UTF-8")


def test_refuses_old_mac_line_endings(put):
    refused(put(text_of(rows(2)).replace("\n", "\r")), "train", "line 1", "carriage return")


def test_refuses_a_folder(tmp_path):
    refused(tmp_path, "train", "folder")


# --------------------------------------------------------------------------- refused: header

def test_refuses_train_without_label_column(put):
    header = ",".join(["digit", *PIXELS])
    refused(put(text_of(rows(2), header=header)), "train", "line 1 (header)", "no 'label' column")


def test_refuses_test_file_given_as_train(put):
    refused(put(text_of(rows(2, "test"), "test")), "train", "line 1 (header)", "swapped", "train.csv")


def test_refuses_test_with_label_column(put):
    refused(put(text_of(rows(2)), "test.csv"), "test", "line 1 (header)", "'label' column", "swapped")


def test_refuses_label_not_first(put):
    header = ",".join([*PIXELS[:3], "label", *PIXELS[3:]])
    refused(put(text_of(rows(2), header=header)), "train", "column 4", "first column")


def test_refuses_783_pixel_columns(put):
    table = [row[:-1] for row in rows(2)]
    refused(put(text_of(table, header=",".join(["label", *PIXELS[:-1]]))), "train",
            "line 1 (header)", "783 pixel columns", "expected 784")


def test_refuses_785_pixel_columns(put):
    table = [[*row, "0"] for row in rows(2, "test")]
    refused(put(text_of(table, header=",".join([*PIXELS, "pixel784"])), "test.csv"), "test",
            "line 1 (header)", "785 pixel columns")


def test_refuses_misnamed_pixel_column(put):
    names = ["label", *PIXELS]
    names[11] = "pixle10"
    refused(put(text_of(rows(2), header=",".join(names))), "train", "column 12", "'pixle10'", "'pixel10'")


def test_refuses_capitalised_label(put):
    refused(put(text_of(rows(2), header=",".join(["Label", *PIXELS]))), "train", "'Label'", "lower case")


def test_refuses_missing_header(put):
    table = rows(3)
    refused(put("\n".join(",".join(row) for row in table) + "\n"), "train", "line 1", "looks like a data row")


def test_refuses_stray_comma_in_header(put):
    refused(put(text_of(rows(2), header=TRAIN_HEADER + ",")), "train", "column 786", "empty column name")


# --------------------------------------------------------------------------- refused: rows and cells

def test_refuses_short_row(put):
    table = rows(4)
    table[2] = table[2][:-3]
    refused(put(text_of(table)), "train", "row 3 (line 4)", "782 cells", "785", "pixel781")


def test_refuses_long_row(put):
    table = rows(4)
    table[1] = [*table[1], "0"]
    refused(put(text_of(table)), "train", "row 2 (line 3)", "786 cells")


def test_refuses_long_first_row(put):
    table = rows(4, "test")
    table[0] = [*table[0], "1", "2"]
    refused(put(text_of(table, "test"), "test.csv"), "test", "row 1 (line 2)", "786 cells")


def test_refuses_blank_line_between_rows(put):
    lines = text_of(rows(4)).split("\n")
    lines.insert(3, "")
    refused(put("\n".join(lines)), "train", "row 3 (line 4)", "blank line")


# One bad cell in an otherwise good file: (kind, rows, row, column, cell, words the message holds).
# 12.0 is refused like 12.5 on purpose (see the dataio docstring).
BAD_CELLS = {
    "non_numeric": ("train", 4, 3, 10, "abc", ["row 4 (line 5)", "column pixel9", "non-numeric", "'abc'"]),
    "empty": ("train", 4, 1, 200, "", ["row 2 (line 3)", "column pixel199", "empty cell"]),
    "nan": ("test", 4, 0, 0, "NaN", ["row 1 (line 2)", "column pixel0", "missing value"]),
    "pixel_above_255": ("train", 5, 4, 784, "256", ["row 5 (line 6)", "column pixel783", "'256'", "outside 0-255"]),
    "negative_pixel": ("train", 5, 2, 1, "-1", ["row 3 (line 4)", "column pixel0", "'-1'", "outside 0-255"]),
    "huge_pixel": ("test", 3, 1, 7, "123456789012345678901234567890",
                   ["row 2 (line 3)", "column pixel7", "outside 0-255"]),
    "fractional_pixel": ("train", 3, 0, 50, "12.5", ["row 1 (line 2)", "column pixel49", "'12.5'", "not a whole number"]),
    "integral_float_pixel": ("train", 3, 2, 3, "12.0", ["row 3 (line 4)", "column pixel2", "'12.0'", "decimal point"]),
    "label_above_9": ("train", 4, 3, 0, "10", ["row 4 (line 5)", "column label", "'10'", "outside 0-9"]),
    "negative_label": ("train", 4, 0, 0, "-3", ["row 1 (line 2)", "column label", "outside 0-9"]),
    "fractional_label": ("train", 4, 1, 0, "3.5", ["row 2 (line 3)", "column label", "not a whole number"]),
}


@pytest.mark.parametrize("case", BAD_CELLS)
def test_refuses_a_bad_cell(put, case):
    kind, n, row, column, cell, words = BAD_CELLS[case]
    table = rows(n, kind)
    table[row][column] = cell
    refused(put(text_of(table, kind), f"{kind}.csv"), kind, *words)


@pytest.mark.parametrize("cell, words", [(" 7", "spaces"), ('"7"', "quoted"), ("+7", "plus sign"),
                                         ("1e2", "decimal"), ("inf", "non-numeric")])
def test_refuses_unusual_number_spellings(put, cell, words):
    table = rows(3)
    table[1][9] = cell
    refused(put(text_of(table)), "train", "row 2 (line 3)", "column pixel8", words)


def test_refuses_single_class(put):
    table = rows(5)
    for row in table:
        row[0] = "4"
    refused(put(text_of(table)), "train", "column label", "label 4", "nothing to learn")


def test_reports_the_first_problem_in_file_order(put):
    table = rows(6)
    table[4][3] = "x"
    table[1][700] = "300"
    refused(put(text_of(table)), "train", "row 2 (line 3)", "column pixel699")


def test_problem_found_in_the_middle_of_a_large_file(tmp_path):
    table = rows(50)
    table[37][100] = "999"
    path = tmp_path / "train.csv"
    path.write_text(text_of(table))
    refused(path, "train", "row 38 (line 39)", "column pixel99", "'999'")


def test_message_names_zip_member(put):
    table = rows(3)
    table[1][2] = "?"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.csv", text_of(table))
    refused(put(buffer.getvalue(), "train.zip"), "train", "inner.csv", "row 2 (line 3)", "pixel1")


# --------------------------------------------------------------------------- fuzz

CELL_JUNK = st.one_of(
    st.sampled_from(["", "NaN", "nan", "NA", "12.5", "12.0", "-1", "256", "1e3", " 7", '"7"', "+7", "0x1f",
                     "99999999999999999999", "-0", "1,2", '"', "\t", "é", "\x00", "\r"]),
    st.integers(-400, 400).map(str),
    st.text(max_size=4),
)


@st.composite
def mangled_csv(draw):
    """A small competition file, possibly mangled; returns (bytes, file name, kind, expected or None).

    ``expected`` is the (X, y) the reader must return when every change made was harmless;
    otherwise it is None and the reader may either return a valid result or refuse with UserError.
    """
    kind = draw(st.sampled_from(["train", "test"]))
    n = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    table = rows(n, kind, seed)
    if kind == "train":
        for row in table:
            row[0] = str(draw(st.integers(0, 9)))
    header = (TRAIN_HEADER if kind == "train" else TEST_HEADER).split(",")
    harmless = True
    for change in draw(st.lists(st.sampled_from(["cell", "drop", "add", "rename", "blank", "no-header",
                                                 "swap-kind", "dup"]), max_size=3)):
        harmless = harmless and change == "dup"
        r = draw(st.integers(0, n - 1))
        c = draw(st.integers(0, max(len(table[r]) - 1, 0)))
        if change == "cell" and table[r]:
            table[r][c] = draw(CELL_JUNK)
        elif change == "drop" and table[r]:
            del table[r][c]
        elif change == "add":
            table[r].insert(c, str(draw(st.integers(0, 255))))
        elif change == "rename" and header:
            header[c % len(header)] = draw(st.sampled_from(["", "label", "Label", "pixel", "pixel0", "x"]))
        elif change == "blank":
            table.insert(r, [""])
        elif change == "no-header":
            header = []
        elif change == "swap-kind":
            header = (TEST_HEADER if kind == "train" else TRAIN_HEADER).split(",")
        elif change == "dup":
            table.insert(r, list(table[r]))
    lines = ([",".join(header)] if header else []) + [",".join(row) for row in table]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
        harmless = False
    if encoding == "utf-16":
        harmless = False
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
        harmless = harmless and encoding != "utf-16"
    packing = draw(st.sampled_from(["plain", "plain", "gz", "zip", "gz-as-csv"]))
    name = "data.csv"
    if packing == "gz":
        data, name = gzip.compress(data, mtime=0), "data.csv.gz"
    elif packing == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("data.csv", data)
        data, name = buffer.getvalue(), "data.zip"
    elif packing == "gz-as-csv":
        data = gzip.compress(data, mtime=0)
        harmless = False
    expected = None
    if harmless:
        values = np.array(table, dtype=np.int64).astype(np.uint8)
        if kind == "train" and len(set(values[:, 0].tolist())) < 2:
            expected = "refused"
        else:
            expected = (values[:, 1:], values[:, 0]) if kind == "train" else (values, None)
    return data, name, kind, expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mangled_csv())
def test_fuzz_mangled_files_give_valid_arrays_or_user_error(tmp_path_factory, case):
    data, name, kind, expected = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        X, y = read_digits_csv(path, kind)
    except UserError as error:
        message = str(error)
        assert "\n" not in message and "\r" not in message and str(path) in message, message
        assert expected is None or expected == "refused", f"harmless file refused: {message}"
        event("refused" + (" as expected" if expected is not None else ""))
        return
    event("read" + (" and compared" if expected is not None else ""))
    assert expected != "refused", "a single-class training file was accepted"
    assert X.dtype == np.uint8 and X.ndim == 2 and X.shape[1] == N_PIXELS
    if kind == "train":
        assert y.dtype == np.uint8 and y.shape == (X.shape[0],) and y.max() <= 9
        assert len(np.unique(y)) >= 2
    else:
        assert y is None
    if expected is not None:
        np.testing.assert_array_equal(X, expected[0])
        if kind == "train":
            np.testing.assert_array_equal(y, expected[1])


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from([b"", TRAIN_HEADER.encode() + b"\n", TEST_HEADER.encode() + b"\n"]),
       junk=st.binary(max_size=400), kind=st.sampled_from(["train", "test"]))
def test_fuzz_random_bytes_are_refused_cleanly(tmp_path_factory, prefix, junk, kind):
    path = tmp_path_factory.mktemp("bytes") / "junk.csv"
    path.write_bytes(prefix + junk)
    try:
        X, y = read_digits_csv(path, kind)
    except UserError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        assert X.dtype == np.uint8 and X.shape[1] == N_PIXELS


# --------------------------------------------------------------------------- submissions

def submission_frame(labels) -> pd.DataFrame:
    return pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels})


def submission_refused(frame_or_path, n: int, *fragments: str, **kwargs) -> str:
    with pytest.raises(UserError) as caught:
        check_submission(frame_or_path, n, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_submission_frame_passes_and_comes_back_as_ints():
    checked = check_submission(submission_frame(np.array([3, 0, 9], dtype=np.uint8)), 3)
    assert list(checked.columns) == ["ImageId", "Label"]
    assert checked["Label"].tolist() == [3, 0, 9] and checked["ImageId"].tolist() == [1, 2, 3]
    assert checked["Label"].dtype == np.int64


def test_submission_file_passes(put):
    path = put("ImageId,Label\r\n1,3\r\n2,7\r\n", "submission.csv")
    assert check_submission(path, 2)["Label"].tolist() == [3, 7]


def test_submission_wrong_header(put):
    path = put("ImageId,label\n1,3\n", "submission.csv")
    submission_refused(path, 1, str(path), "header", "'ImageId,Label'")


def test_submission_extra_column():
    frame = submission_frame([1, 2]).assign(Extra=0)
    submission_refused(frame, 2, "submission", "header")


def test_submission_frame_named_by_path_argument():
    submission_refused(submission_frame([1, 2]), 3, "solution.csv", path="solution.csv")


def test_submission_wrong_row_count(put):
    path = put("ImageId,Label\n1,3\n2,4\n", "submission.csv")
    submission_refused(path, 3, str(path), "has 2 rows, expected 3")


def test_submission_image_ids_out_of_order():
    frame = pd.DataFrame({"ImageId": [1, 3, 2], "Label": [0, 1, 2]})
    submission_refused(frame, 3, "row 2, column ImageId", "expected 2", "1..3")


def test_submission_image_ids_start_at_zero():
    frame = pd.DataFrame({"ImageId": [0, 1], "Label": [0, 1]})
    submission_refused(frame, 2, "row 1, column ImageId")


def test_submission_label_out_of_range(put):
    path = put("ImageId,Label\n1,3\n2,10\n", "submission.csv")
    submission_refused(path, 2, str(path), "row 2, column Label", "'10'", "0-9")


def test_submission_label_not_a_number(put):
    path = put("ImageId,Label\n1,seven\n", "submission.csv")
    submission_refused(path, 1, "row 1, column Label", "'seven'")


def test_submission_label_float():
    submission_refused(submission_frame([1.0, 2.0]), 2, "row 1, column Label", "'1.0'")


def test_submission_empty_label(put):
    path = put("ImageId,Label\n1,\n", "submission.csv")
    submission_refused(path, 1, "row 1, column Label")


def test_submission_missing_file(tmp_path):
    submission_refused(tmp_path / "nope.csv", 1, "not found")


def test_submission_matches_sample(put):
    sample = put("ImageId,Label\n1,0\n2,0\n", "sample_submission.csv")
    check_submission(submission_frame([4, 5]), 2, sample_path=sample)


def test_submission_sample_header_differs(put):
    sample = put("ImageId,Prediction\n1,0\n2,0\n", "sample_submission.csv")
    submission_refused(submission_frame([4, 5]), 2, str(sample), "header", sample_path=sample)


def test_submission_sample_row_count_differs(put):
    sample = put("ImageId,Label\n1,0\n2,0\n3,0\n", "sample_submission.csv")
    submission_refused(submission_frame([4, 5]), 2, str(sample), "has 3", sample_path=sample)


def test_write_submission_bytes(tmp_path):
    path = tmp_path / "out" / "submission.csv"
    write_submission(path, np.array([7, 0, 3], dtype=np.int64))
    assert path.read_bytes() == b"ImageId,Label\n1,7\n2,0\n3,3\n"
    assert [p.name for p in path.parent.iterdir()] == ["submission.csv"]


def test_write_submission_checks_against_sample(tmp_path, put):
    sample = put("ImageId,Label\n1,0\n2,0\n", "sample_submission.csv")
    with pytest.raises(UserError, match="has 3 rows"):
        write_submission(tmp_path / "submission.csv", [1, 2, 3], sample_path=sample)
    assert not (tmp_path / "submission.csv").exists()


def test_write_submission_refuses_bad_label_and_leaves_nothing(tmp_path):
    with pytest.raises(UserError, match="row 2, column Label"):
        write_submission(tmp_path / "submission.csv", [1, 12])
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- split files

def test_split_round_trip(tmp_path, make_digits):
    X, y = make_digits(12)
    save_split(tmp_path / "train.npz", X, y)
    got_X, got_y = load_split(tmp_path / "train.npz")
    np.testing.assert_array_equal(got_X, X)
    np.testing.assert_array_equal(got_y, y)
    assert got_X.dtype == np.uint8 and got_y.dtype == np.uint8
    assert [p.name for p in tmp_path.iterdir()] == ["train.npz"]


def test_save_split_refuses_wrong_dtype(tmp_path):
    with pytest.raises(ValueError):
        save_split(tmp_path / "s.npz", np.zeros((2, N_PIXELS), dtype=np.float32), np.zeros(2, dtype=np.uint8))
    assert not (tmp_path / "s.npz").exists()


def split_refused(path: Path, *fragments: str) -> None:
    with pytest.raises(UserError) as caught:
        load_split(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_load_split_missing_file(tmp_path):
    split_refused(tmp_path / "none.npz", "not found")


def test_load_split_missing_key(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, X=np.zeros((2, N_PIXELS), dtype=np.uint8))
    split_refused(path, "missing", "y")


def test_load_split_wrong_dtype(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, X=np.zeros((2, N_PIXELS), dtype=np.float64), y=np.zeros(2, dtype=np.uint8))
    split_refused(path, "X is float64")


def test_load_split_wrong_shape(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, X=np.zeros((2, N_PIXELS), dtype=np.uint8), y=np.zeros(3, dtype=np.uint8))
    split_refused(path, "y is uint8 of shape (3,)")


def test_load_split_not_npz(tmp_path):
    path = tmp_path / "s.npz"
    path.write_text("hello")
    split_refused(path, "not a .npz file")
