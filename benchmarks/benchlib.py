"""Shared pieces of the benchmark scripts: data sets, thread limits, timing, tables, JSON.

Benchmarks are scripts, not tests: they print tables and write JSON to ``benchmarks/out/``.
Every script imports this module first; it puts ``scripts/`` on ``sys.path`` so that the
pipeline's own modules (``numpynet``, ``download``, ``split``, ``dataio``, ``config_check``)
are used exactly as the pipeline uses them.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
OUT = ROOT / "benchmarks" / "out"
DATA_DIR = OUT / "data"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import numpy as np  # noqa: E402

import common  # noqa: E402
import config_check  # noqa: E402
import dataio  # noqa: E402
import numpynet  # noqa: E402
import split  # noqa: E402

THREADS = 2
REPEATS = 3

# The Kaggle-sized set: as many rows as the competition's files.
KAGGLE_TRAIN_ROWS = 42_000
KAGGLE_TEST_ROWS = 28_000
JITTER_SEED = 20_240_601
JITTER_SHIFT = 2            # pixels, each direction, each axis
JITTER_GAIN = (0.8, 1.2)    # ink pixels multiplied by one factor per image
JITTER_NOISE = 8.0          # standard deviation of the noise added to ink pixels (0..255 scale)
JITTER_VERSION = 1          # bump when the recipe changes, so a stale cache is not reused
QUICK_TRAIN_ROWS = 8_400    # --quick uses this many of the 42,000 rows (and a third as many test rows)


# ----------------------------------------------------------------------------- config and threads

def load_config() -> dict:
    """config.yaml, validated and with defaults filled, as the pipeline sees it."""
    import yaml

    with open(ROOT / "config.yaml", encoding="utf-8") as handle:
        return config_check.validate_config(yaml.safe_load(handle))


def limit_threads(threads: int = THREADS) -> dict:
    """Limit every loaded BLAS/OpenMP pool (and torch, if imported) to ``threads``.

    threadpoolctl only sees libraries already loaded, so call this after importing the peers.
    The returned controller must be kept alive (it is module-global here) for the limits to last.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    global _LIMITS
    _LIMITS = threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(threads)
    pools = [{"api": p["internal_api"], "prefix": p["prefix"], "threads": p["num_threads"]}
             for p in threadpool_info()]
    return {"threads": threads, "pools": pools}


_LIMITS = None


def to_float32(X_uint8) -> np.ndarray:
    """Pixels scaled to [0, 1] in float32 with the very operation our network applies itself,
    so that the peers see bit-for-bit the inputs ours sees."""
    global _SCALER
    if _SCALER is None:
        _SCALER = numpynet.build_network(numpynet.ModelSettings(hidden=(1,)), dtype=np.float32)
    return _SCALER.scale_inputs(X_uint8)


_SCALER = None


# ----------------------------------------------------------------------------- NumPy floor

def hand_fused_sgd(X_raw, y_raw, epochs, initial, *, batch=128, learning_rate=0.1, seed=0) -> dict:
    """SGD on a one-hidden-layer ReLU network written as one flat loop over preallocated arrays,
    with no layer objects, no loss value, no accuracy count and no divergence check: about the
    least NumPy can do per batch with the same five matrix products as numpynet.train, so a
    lower bound for its time. Not a product: a reference that says how far any NumPy code gets
    at these shapes on this machine.

    ``initial`` is (W1, b1, W2, b2) in float32, copied, not changed. Returns "seconds" (the
    epoch loop) and "params", the trained (W1, b1, W2, b2).
    """
    W1, b1, W2, b2 = (np.array(p, dtype=np.float32) for p in initial)
    n, n_in, hidden, n_out = len(X_raw), W1.shape[0], W1.shape[1], W2.shape[1]
    y = y_raw.astype(np.intp)
    dW1, dW2, db1, db2 = np.empty_like(W1), np.empty_like(W2), np.empty_like(b1), np.empty_like(b2)
    raw_full, x_full = np.empty((batch, n_in), X_raw.dtype), np.empty((batch, n_in), np.float32)
    y_full = np.empty(batch, np.intp)
    h_full, mask_full, dh_full = (np.empty((batch, hidden), np.float32) for _ in range(3))
    o_full = np.empty((batch, n_out), np.float32)
    offsets = np.arange(0, batch * n_out, n_out)
    lr, scale = np.float32(learning_rate), np.float32(1 / 255)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            rows = order[s:s + batch]
            m = len(rows)
            raw, xb, yb = raw_full[:m], x_full[:m], y_full[:m]
            h, mask, dh, o = h_full[:m], mask_full[:m], dh_full[:m], o_full[:m]
            X_raw.take(rows, axis=0, out=raw, mode="clip")
            y.take(rows, out=yb, mode="clip")
            np.multiply(raw, scale, out=xb, dtype=np.float32)
            np.matmul(xb, W1, out=h)
            h += b1
            np.greater(h, 0, out=mask)
            h *= mask
            np.matmul(h, W2, out=o)
            o += b2
            o -= np.maximum.reduce(o, axis=1, keepdims=True)
            np.exp(o, out=o)
            sums = np.add.reduce(o, axis=1)
            sums *= m
            o /= sums[:, None]
            o.reshape(-1)[offsets[:m] + yb] -= np.float32(1 / m)
            np.matmul(h.T, o, out=dW2)
            np.add.reduce(o, axis=0, out=db2)
            np.matmul(o, W2.T, out=dh)
            dh *= mask
            np.matmul(xb.T, dh, out=dW1)
            np.add.reduce(dh, axis=0, out=db1)
            for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
                g *= lr
                p -= g
    return {"seconds": time.perf_counter() - start, "params": (W1, b1, W2, b2)}


def hand_fused_network(params) -> numpynet.Network:
    """The floor's trained (W1, b1, W2, b2) as a numpynet network, to predict with."""
    W1, b1, W2, b2 = params
    return numpynet.Network([numpynet.Dense(W1, b1), numpynet.ReLU(), numpynet.Dense(W2, b2)])


# ----------------------------------------------------------------------------- data sets

@dataclass
class Dataset:
    name: str
    description: str
    X_train: np.ndarray   # uint8 (n, 784)
    y_train: np.ndarray   # uint8 (n,)
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray    # the "leaderboard" rows
    y_test: np.ndarray
    derived: bool

    def sizes(self) -> dict:
        return {"train": len(self.y_train), "dev": len(self.y_dev), "test": len(self.y_test)}

    def summary(self) -> dict:
        return {"name": self.name, "description": self.description, "derived": self.derived,
                **self.sizes()}


def _sample_files() -> dict:
    """The offline sample in the competition's format, built once into benchmarks/out/data."""
    import download

    names = ("train.csv", "test.csv", "solution.csv")
    if not all((DATA_DIR / name).is_file() for name in names):
        download.build_sample(DATA_DIR)  # deterministic: byte-identical files every time
    return {name: DATA_DIR / name for name in names}


def _real_digits():
    """(train X, train y, test X, test y) of the sample, all uint8, as the pipeline reads them."""
    files = _sample_files()
    X_train, y_train = dataio.read_digits_csv(files["train.csv"], "train")
    X_test, _ = dataio.read_digits_csv(files["test.csv"], "test")
    solution = dataio.check_submission(files["solution.csv"], len(X_test))
    y_test = solution["Label"].to_numpy().astype(np.uint8)
    return X_train, y_train, X_test, y_test


def _split(name, description, X, y, X_test, y_test, derived, config) -> Dataset:
    dev_fraction, seed = config["split"]["dev_fraction"], config["split"]["seed"]
    train_rows, dev_rows = split.stratified_split(y, dev_fraction, seed)
    description += f"; split dev_fraction={dev_fraction}, seed={seed} as the pipeline does"
    return Dataset(name, description, X[train_rows], y[train_rows], X[dev_rows], y[dev_rows],
                   X_test, y_test, derived)


def default_data(config) -> Dataset:
    X, y, X_test, y_test = _real_digits()
    return _split("default", f"offline sample: train.csv {len(y):,} real MNIST digits, "
                  f"test.csv/solution.csv {len(y_test):,} held-out digits", X, y, X_test, y_test,
                  False, config)


def jitter(images, labels, copies, rng, chunk=10_000):
    """``copies`` randomly shifted, intensity-perturbed versions of every image, in shuffled order.

    Each copy moves the digit by (dy, dx), each in [-JITTER_SHIFT, JITTER_SHIFT], filling with 0;
    then its ink (non-zero) pixels are multiplied by one gain from JITTER_GAIN per image, get
    Gaussian noise of JITTER_NOISE added, and are rounded and clipped to 0..255.
    """
    source = rng.permutation(np.repeat(np.arange(len(images)), copies))
    m, s = len(source), JITTER_SHIFT
    shifts = rng.integers(-s, s + 1, size=(m, 2))
    gains = rng.uniform(*JITTER_GAIN, size=m).astype(np.float32)
    out = np.empty((m, 784), np.uint8)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        padded = np.zeros((stop - start, 28 + 2 * s, 28 + 2 * s), np.uint8)
        padded[:, s:s + 28, s:s + 28] = images[source[start:stop]].reshape(-1, 28, 28)
        moved = np.empty((stop - start, 28, 28), np.uint8)
        for dy in range(-s, s + 1):
            for dx in range(-s, s + 1):
                rows = np.flatnonzero((shifts[start:stop, 0] == dy) & (shifts[start:stop, 1] == dx))
                # moved[i, j] = image[i - dy, j - dx]
                moved[rows] = padded[rows, s - dy:s - dy + 28, s - dx:s - dx + 28]
        pixels = moved.reshape(-1, 784).astype(np.float32)
        ink = pixels > 0
        pixels *= gains[start:stop, None]
        pixels += rng.normal(0.0, JITTER_NOISE, size=pixels.shape).astype(np.float32)
        pixels[~ink] = 0
        out[start:stop] = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return out, labels[source]


def kaggle_sized_raw():
    """(X, y, X_test, y_test): 42,000 / 28,000 rows derived from the 5,000 real digits; cached."""
    cache = OUT / f"kaggle_sized_v{JITTER_VERSION}_seed{JITTER_SEED}.npz"
    if cache.is_file():
        with np.load(cache) as archive:
            return tuple(archive[key] for key in ("X", "y", "X_test", "y_test"))
    X_real, y_real, X_real_test, y_real_test = _real_digits()
    rng = np.random.default_rng(JITTER_SEED)
    # Training rows only from the real training digits, test rows only from the real test
    # digits, so the "leaderboard" score is still on digits the network never saw.
    X, y = jitter(X_real, y_real, -(-KAGGLE_TRAIN_ROWS // len(y_real)), rng)
    X_test, y_test = jitter(X_real_test, y_real_test, -(-KAGGLE_TEST_ROWS // len(y_real_test)), rng)
    X, y, X_test, y_test = X[:KAGGLE_TRAIN_ROWS], y[:KAGGLE_TRAIN_ROWS], X_test[:KAGGLE_TEST_ROWS], y_test[:KAGGLE_TEST_ROWS]
    common.save_npz(cache, X=X, y=y, X_test=X_test, y_test=y_test)
    return X, y, X_test, y_test


def kaggle_sized_data(config, quick=False) -> Dataset:
    X, y, X_test, y_test = kaggle_sized_raw()
    if quick:
        X, y = X[:QUICK_TRAIN_ROWS], y[:QUICK_TRAIN_ROWS]
        X_test, y_test = X_test[:QUICK_TRAIN_ROWS // 3], y_test[:QUICK_TRAIN_ROWS // 3]
    description = (f"DERIVED, not Kaggle's data: {len(y):,} training and {len(y_test):,} test rows made "
                   f"from the sample's 3,000 train / 2,000 test real digits (train rows only from "
                   f"train digits, test rows only from test digits), each shifted by up to "
                   f"+-{JITTER_SHIFT} px, ink gain U{JITTER_GAIN} and N(0, {JITTER_NOISE:g}) noise, "
                   f"seed {JITTER_SEED}; dev rows are jitters of the same digits as train rows, so "
                   f"dev accuracy is optimistic")
    name = "kaggle-sized (derived)" + (" QUICK subset" if quick else "")
    return _split(name, description, X, y, X_test, y_test, True, config)


# ----------------------------------------------------------------------------- timing

def noise(results: list[dict]) -> dict:
    shares = [r.get("others_cpu", 0.0) for r in results]
    return {"others_cpu_mean": sum(shares) / len(shares), "others_cpu_max": max(shares)}


def median_spread(seconds: list[float]) -> dict:
    med = statistics.median(seconds)
    return {"median": med, "min": min(seconds), "max": max(seconds), "runs": list(seconds),
            "spread_pct": 100.0 * (max(seconds) - min(seconds)) / med if med > 0 else 0.0}


def cpu_snapshot() -> tuple[int, int, int]:
    """(all CPU time, busy CPU time, this process's CPU time) in clock ticks, from /proc."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    busy = total - fields[3] - fields[4]
    with open("/proc/self/stat", encoding="ascii") as handle:
        own = handle.read().rsplit(")", 1)[1].split()
    return total, busy, int(own[11]) + int(own[12])  # utime + stime, all threads


def others_share(before, after) -> float:
    """Share (0..1) of the machine's CPU time that other processes used between two snapshots:
    the measure of how noisy a timing is (0 on a quiet machine)."""
    total = after[0] - before[0]
    if total <= 0:
        return 0.0
    return max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / total


def round_robin(runners: dict, repeats: int, log=print) -> dict:
    """Run every runner ``repeats`` times, interleaved (a, b, c, a, b, c, ...), so that a burst of
    load from other processes on the machine is shared out rather than hitting one learner.

    A runner is a callable returning a dict with at least "seconds" (the timed region).
    Returns name -> list of result dicts.
    """
    results = {name: [] for name in runners}
    for repeat in range(repeats):
        for name, runner in runners.items():
            before = cpu_snapshot()
            result = runner()
            result["others_cpu"] = others_share(before, cpu_snapshot())
            results[name].append(result)
            log(f"  run {repeat + 1}/{repeats} {name}: {result['seconds']:.3f} s "
                f"(other processes used {100 * result['others_cpu']:.0f}% of the CPUs meanwhile)", flush=True)
    return results


def accuracy(predicted, labels) -> float:
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))


# ----------------------------------------------------------------------------- output

def table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    if title:
        lines.append(title)
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def environment(quick: bool) -> dict:
    import numpy

    load = os.getloadavg()
    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average_1_5_15": [round(x, 2) for x in load], "quick": quick,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def load_note(seconds: float = 1.0) -> str:
    """How busy other processes keep the machine, measured over ``seconds`` of sleep (the load
    average would count this very benchmark and the one before it)."""
    before = cpu_snapshot()
    time.sleep(seconds)
    share = others_share(before, cpu_snapshot())
    return (f"other processes used {100 * share:.0f}% of the {os.cpu_count()} CPUs over {seconds:g} s"
            + ("  <-- machine busy: timings will be noisy" if share > NOISY else ""))


NOISY = 0.10  # other processes' share of the CPUs above which a timing is flagged


def noise_note(learners: list[dict]) -> str:
    """One line on how much other processes ran during the timed runs (the 'others' CPU' column:
    the largest share of the machine's CPU time they took during any one timed run)."""
    worst = max(r["noise"]["others_cpu_max"] for r in learners)
    mean = sum(r["noise"]["others_cpu_mean"] for r in learners) / len(learners)
    note = (f"other processes' CPU share during the timed runs: mean {100 * mean:.0f}%, worst run "
            f"{100 * worst:.0f}%")
    if worst > NOISY:
        note += (f"  <-- over {100 * NOISY:.0f}%: the machine was shared, those timings are noisy "
                 "(multi-threaded BLAS/OpenMP slows down far more than the lost share); rerun when quiet")
    return note


def write_json(name: str, payload: dict) -> Path:
    path = OUT / f"{name}.json"
    common.write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n")
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def target(name: str, met: bool | None, detail: str) -> dict:
    return {"target": name, "met": met, "detail": detail}


def print_targets(targets: list[dict], quick: bool) -> None:
    rows = [[t["target"], "n/a" if t["met"] is None else "MET" if t["met"] else "MISSED", t["detail"]]
            for t in targets]
    print(table(["target", "result", "detail"], rows,
                "Targets" + (" (QUICK run: sizes and repeats cut, results not meaningful)" if quick else "")))
