"""Regenerate the example digit pictures in this folder.

    .venv/bin/python tests/data/digits/make_digits.py

Each file is named after the digit it shows. They deliberately differ in the
ways real photos and scans do: size and aspect ratio, dark ink on light paper
or light ink on dark, RGB, grayscale or transparent backgrounds, thick or thin
pens, and one lossy JPEG. Most are drawn as pen strokes (polylines and curves
sampled densely and stamped with a round nib), two are glyphs of the DejaVu
Sans Bold font that ships with matplotlib, so no system font is needed.

Strokes are drawn at four times the final size and scaled down, which gives
the soft edges of a real pen; everything is deterministic.
"""
from __future__ import annotations

import math
from pathlib import Path

from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
SUPERSAMPLE = 4

Point = tuple[float, float]


def line(*points: Point, steps: int = 40) -> list[Point]:
    """Straight segments through ``points``, sampled densely."""
    path: list[Point] = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        path += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(steps)]
    path.append(points[-1])
    return path


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 90) -> list[Point]:
    """Elliptical arc; angles in degrees, 0 = right, 90 = down (image coordinates)."""
    return [(cx + rx * math.cos(math.radians(start + (end - start) * i / steps)),
             cy + ry * math.sin(math.radians(start + (end - start) * i / steps))) for i in range(steps + 1)]


def bezier(p0: Point, p1: Point, p2: Point, steps: int = 60) -> list[Point]:
    """Quadratic Bezier curve from p0 to p2 pulled towards p1."""
    out = []
    for i in range(steps + 1):
        t = i / steps
        out.append(((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t * t * p2[0],
                    (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t * t * p2[1]))
    return out


# Each digit as a list of pen strokes in a unit box (x right, y down).
STROKES: dict[int, list[list[Point]]] = {
    0: [arc(0.5, 0.5, 0.3, 0.42, -80, 285)],
    1: [line((0.58, 0.08), (0.44, 0.92))],
    3: [arc(0.46, 0.29, 0.24, 0.2, -165, 95), arc(0.46, 0.71, 0.27, 0.22, -95, 160)],
    4: [line((0.55, 0.08), (0.18, 0.64), (0.86, 0.64)), line((0.66, 0.34), (0.64, 0.94))],
    6: [bezier((0.72, 0.07), (0.22, 0.28), (0.27, 0.72)), arc(0.5, 0.7, 0.23, 0.22, 180, 540)],
    7: [line((0.14, 0.12), (0.86, 0.12), (0.42, 0.93))],
    8: [arc(0.5, 0.28, 0.19, 0.19, 0, 360), arc(0.5, 0.71, 0.25, 0.22, 0, 360)],
    9: [arc(0.48, 0.3, 0.22, 0.2, 0, 360), bezier((0.7, 0.3), (0.69, 0.65), (0.6, 0.94))],
}


def draw_strokes(digit: int, size: tuple[int, int], pen: float, ink: int | tuple, paper: int | tuple,
                 mode: str, margin: float = 0.12) -> Image.Image:
    """Render a digit's strokes into an image of ``size`` (width, height); ``pen`` is a share of the height."""
    width, height = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    image = Image.new(mode, (width, height), paper)
    draw = ImageDraw.Draw(image)
    radius = pen * height / 2
    usable_w, usable_h = width * (1 - 2 * margin), height * (1 - 2 * margin)
    # Keep the digit's proportions: a unit box that is taller than wide.
    box = min(usable_h, usable_w * 1.4)
    box_w, box_h = box / 1.4, box
    left, top = (width - box_w) / 2, (height - box_h) / 2
    for stroke in STROKES[digit]:
        for x, y in stroke:
            px, py = left + x * box_w, top + y * box_h
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=ink)
    return image.resize(size, Image.Resampling.LANCZOS)


def draw_glyph(char: str, size: tuple[int, int], ink, paper, mode: str) -> Image.Image:
    """A character of DejaVu Sans Bold centred in the image, about 70% of its height."""
    font_path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"),
                                      fallback_to_default=True)
    font = ImageFont.truetype(font_path, int(size[1] * 0.7 * SUPERSAMPLE))
    big = (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE)
    image = Image.new(mode, big, paper)
    ImageDraw.Draw(image).text((big[0] / 2, big[1] / 2), char, font=font, fill=ink, anchor="mm")
    return image.resize(size, Image.Resampling.LANCZOS)


def make_all() -> list[Path]:
    images = {
        # dark ink on white paper, RGB
        "0_drawn.png": draw_strokes(0, (200, 200), 0.07, (20, 20, 20), (255, 255, 255), "RGB"),
        # light chalk on a dark board, grayscale, small and narrow
        "1_drawn.png": draw_strokes(1, (64, 90), 0.09, 235, 25, "L"),
        # typeset glyph, dark blue on cream paper, RGB
        "2_font.png": draw_glyph("2", (160, 160), (30, 40, 120), (250, 244, 220), "RGB"),
        # photo-like: grey ink on off-white paper, saved as a lossy JPEG
        "3_drawn.jpg": draw_strokes(3, (150, 200), 0.08, (60, 60, 70), (235, 232, 225), "RGB"),
        # light on dark grayscale, square
        "4_drawn.png": draw_strokes(4, (120, 120), 0.08, 255, 0, "L"),
        # typeset glyph, black on a transparent background (RGBA)
        "5_font.png": draw_glyph("5", (96, 128), (0, 0, 0, 255), (0, 0, 0, 0), "RGBA"),
        # dark on light, thin pen, portrait
        "6_drawn.png": draw_strokes(6, (100, 140), 0.05, (0, 0, 0), (255, 255, 255), "RGB"),
        # light on dark grayscale, large
        "7_drawn.png": draw_strokes(7, (220, 220), 0.07, 250, 10, "L"),
        # dark red ink on light grey paper, RGB, wide
        "8_drawn.png": draw_strokes(8, (180, 120), 0.07, (140, 20, 20), (215, 215, 215), "RGB"),
        # white strokes on a transparent background (grayscale with alpha)
        "9_drawn.png": draw_strokes(9, (90, 120), 0.08, (255, 255), (0, 0), "LA"),
    }
    written = []
    for name, image in images.items():
        path = HERE / name
        if name.endswith(".jpg"):
            image.save(path, format="JPEG", quality=75)
        else:
            image.save(path, format="PNG", optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in make_all():
        print(f"{path.name}: {path.stat().st_size} bytes")
