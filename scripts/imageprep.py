"""Turn an ordinary picture of one digit into a 28x28 MNIST-style row of 784 pixels.

MNIST digits are light ink on a black background, fitted into a 20x20 box with
their aspect ratio kept, and placed in a 28x28 field so that their centre of
mass sits at the centre of the field. A network trained on them expects exactly
that, so :func:`image_to_mnist` repeats those steps on any image:

1. grayscale (transparent areas are filled with a background that contrasts with the ink);
2. polarity: if the border is light (dark ink on paper), invert; "light" means nearer
   the image's lightest than its darkest pixel;
3. stretch the contrast from the background level to the brightest ink;
4. crop to the bounding box of the ink, ignoring faint noise;
5. scale so the longer side is 20 pixels (Lanczos resampling, which also antialiases);
6. paste into 28x28 so the centre of mass lands on (14, 14).

Coordinates follow the convention that pixel ``i`` covers ``[i, i + 1)``, so its
centre is ``i + 0.5`` and the centre of the 28x28 field is 14.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from common import UserError

SIZE = 28
BOX = 20
CENTRE = SIZE / 2
# Below this difference between background and brightest ink the image is treated as blank.
MIN_CONTRAST = 24.0
# After contrast stretching, pixels under this share of full ink are noise for the bounding box...
INK_THRESHOLD = 0.3
# ...and pixels under this share are set to pure background, as in MNIST.
FLOOR = 0.1
# Very large photos are shrunk first; the result only needs 20 pixels anyway.
MAX_WORKING_SIDE = 1024


class BlankImageError(UserError):
    """The image holds no ink to recognise."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open and decode an image file fully, or raise UserError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an image file; pass PNG/JPEG files or a CSV")
    try:
        with Image.open(path) as image:
            image.seek(0)
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; check the path") from None
    except UnidentifiedImageError:
        raise UserError(f"{path}: not a readable image (not a picture format Pillow knows); "
                        "use a PNG or JPEG file") from None
    except Image.DecompressionBombError as error:
        raise UserError(f"{path}: not a readable image ({error}); scale it down first") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise UserError(f"{path}: cannot decode the image ({error}); re-save it as PNG or JPEG") from None


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def grayscale_array(image: Image.Image) -> np.ndarray:
    """Luminance as float64 in 0..255, with transparency flattened onto a contrasting background."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 255.0)
        gray = np.clip(values, 0, None) * (255.0 / top)
    elif _has_alpha(image):
        rgba = image.convert("RGBA")
        gray = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        if alpha.sum() == 0:
            raise BlankImageError("the image is fully transparent")
        # Dark strokes on a transparent sheet go onto white paper, light strokes onto black.
        ink_level = float((gray * alpha).sum() / alpha.sum())
        background = 255.0 if ink_level < 128 else 0.0
        gray = alpha * gray + (1.0 - alpha) * background
    else:
        gray = np.asarray(image.convert("L"), dtype=np.float64)
    if gray.ndim != 2 or gray.size == 0:
        raise BlankImageError("the image has no pixels")
    longest = max(gray.shape)
    if longest > MAX_WORKING_SIDE:
        scale = MAX_WORKING_SIDE / longest
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = np.asarray(Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.BOX),
                          dtype=np.float64)
    return gray


def border_pixels(gray: np.ndarray) -> np.ndarray:
    """The outermost row and column on each side."""
    return np.concatenate([gray[0, :], gray[-1, :], gray[:, 0], gray[:, -1]])


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Light-on-dark ink intensity in 0..1 (background 0), inverting dark-on-light images.

    The border is taken to be background. When its mean lies nearer the lightest
    than the darkest pixel, the ink is the dark part and the image is inverted.
    Comparing with the image's own range, rather than with mid-grey, also gets dark
    ink on coloured paper that is darker than mid-grey right.
    """
    lowest, highest = float(gray.min()), float(gray.max())
    if border_pixels(gray).mean() > (lowest + highest) / 2:
        gray = 255.0 - gray
    background = float(np.median(border_pixels(gray)))
    peak = float(gray.max())
    if peak - background < MIN_CONTRAST:
        raise BlankImageError("the image is blank (no ink stands out from the background)")
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)
    ink[ink < FLOOR] = 0.0
    return ink


def ink_bounding_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive, of the pixels that are clearly ink."""
    mask = ink >= INK_THRESHOLD
    if min(ink.shape) >= 64:
        # On large images, isolated specks (scanner dust, JPEG noise) do not count as ink.
        filtered = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MedianFilter(3))
        cleaned = np.asarray(filtered) > 127
        if cleaned.any():
            mask = cleaned
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise BlankImageError("the image is blank (no ink above the noise threshold)")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale ``ink`` so its longer side is ``box`` pixels, keeping the aspect ratio; peak becomes 1."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    patch = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    peak = patch.max()
    if peak <= 0:
        raise BlankImageError("the ink vanished when scaled down")
    return patch / peak


def centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre, with pixel i centred at i + 0.5."""
    total = patch.sum()
    rows = np.arange(patch.shape[0]) + 0.5
    cols = np.arange(patch.shape[1]) + 0.5
    return float(patch.sum(axis=1) @ rows / total), float(patch.sum(axis=0) @ cols / total)


def place_centred(patch: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Paste ``patch`` into a ``size`` x ``size`` field with its centre of mass on the field centre.

    The shift is rounded to whole pixels and limited so that no ink falls off the field.
    """
    height, width = patch.shape
    com_row, com_col = centre_of_mass(patch)
    top = min(max(round(size / 2 - com_row), 0), size - height)
    left = min(max(round(size / 2 - com_col), 0), size - width)
    field = np.zeros((size, size), dtype=np.float64)
    field[top:top + height, left:left + width] = patch
    return field


def image_to_mnist(image: Image.Image) -> np.ndarray:
    """One digit picture (any size, mode, polarity) as uint8 (784,) light-on-dark MNIST pixels."""
    ink = ink_map(grayscale_array(image))
    top, bottom, left, right = ink_bounding_box(ink)
    field = place_centred(fit_box(ink[top:bottom, left:right]))
    return np.round(field * 255.0).astype(np.uint8).reshape(SIZE * SIZE)


def image_file_to_mnist(path: str | os.PathLike) -> np.ndarray:
    """:func:`image_to_mnist` for a file; every problem becomes a UserError naming the file."""
    image = load_image(path)
    try:
        return image_to_mnist(image)
    except BlankImageError as error:
        raise UserError(f"{path}: {error}; draw a dark digit on light paper or a light one on dark") from None
