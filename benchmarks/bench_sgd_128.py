"""784-128-10, SGD lr 0.1, batch 128, 10 epochs: our NumPy network vs PyTorch (CPU) vs
scikit-learn's MLPClassifier, on the default data and on a Kaggle-sized (derived) set; plus this
machine's float32 matrix-multiply peak and the share of it our training reaches.

    .venv/bin/python benchmarks/bench_sgd_128.py [--quick]

Prints tables and writes benchmarks/out/bench_sgd_128.json.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

_started = time.perf_counter()
import benchlib  # noqa: E402  (puts scripts/ on sys.path)

_t = time.perf_counter()
import torch  # noqa: E402

TORCH_IMPORT_SECONDS = time.perf_counter() - _t
_t = time.perf_counter()
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

SKLEARN_IMPORT_SECONDS = time.perf_counter() - _t

import numpy as np  # noqa: E402
import sklearn  # noqa: E402

import numpynet  # noqa: E402
from benchlib import accuracy, table, target  # noqa: E402

HIDDEN = 128
LEARNING_RATE = 0.1
BATCH = 128
EPOCHS = 10
SEED = 0
N_IN, N_OUT = 784, 10
MODEL = numpynet.ModelSettings(hidden=(HIDDEN,), activation="relu", init="he", dropout=0.0)
SETTINGS = numpynet.TrainSettings(optimizer="sgd", learning_rate=LEARNING_RATE, batch_size=BATCH,
                                  epochs=EPOCHS, schedule="constant", weight_decay=0.0,
                                  max_shift=0, early_stopping=False, seed=SEED)

# FLOPs of one training example, one epoch (a multiply-add counts as 2):
FLOPS_FORWARD = 2 * N_IN * HIDDEN + 2 * HIDDEN * N_OUT
FLOPS_WEIGHT_GRADS = 2 * N_IN * HIDDEN + 2 * HIDDEN * N_OUT
FLOPS_HIDDEN_INPUT_GRAD = 2 * HIDDEN * N_OUT  # the first layer's input gradient is never computed
FLOPS_PER_EXAMPLE = FLOPS_FORWARD + FLOPS_WEIGHT_GRADS + FLOPS_HIDDEN_INPUT_GRAD
FLOP_FORMULA = ("FLOPs = epochs * n_train * (2*784*128 + 2*128*10   [forward]\n"
                "                           + 2*784*128 + 2*128*10   [weight gradients, both layers]\n"
                "                           + 2*128*10)              [hidden-layer input gradient]\n"
                f"      = epochs * n_train * {FLOPS_PER_EXAMPLE:,}\n"
                "  (the first layer's input gradient is skipped by our network, so not counted; bias adds,\n"
                "   ReLU, softmax, the update and the per-epoch dev pass are not counted either)")


# ----------------------------------------------------------------------------- matmul peak

def matmul_peak(size=2048, runs=7) -> dict:
    """Best float32 size x size @ size x size time with numpy's BLAS (already limited to 2 threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty((size, size), np.float32)
    np.matmul(a, b, out=out)  # warm-up: thread start, page faults
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    flops = 2.0 * size ** 3
    return {"size": size, "runs": runs, "best_seconds": min(times), "times": times,
            "gflops": flops / min(times) / 1e9, "median_gflops": flops / float(np.median(times)) / 1e9}


# ----------------------------------------------------------------------------- learners

def run_ours(ds) -> dict:
    network = numpynet.build_network(MODEL, n_inputs=N_IN, n_classes=N_OUT, seed=SETTINGS.seed)
    start = time.perf_counter()
    # The library's own call on the uint8 pixels, which it scales to float32 batch by batch (timed).
    # No dev set, so no per-epoch dev pass: the peers below do none either.
    history = numpynet.train(network, ds.X_train, ds.y_train, None, None, SETTINGS)
    seconds = time.perf_counter() - start
    epochs_seconds = sum(row["seconds"] for row in history)
    return {"seconds": seconds, "epochs": len(history), "dtype": str(network.dtype),
            # what train() spends outside its epochs: checking and scaling the inputs to float32
            "setup_seconds": seconds - epochs_seconds,
            "dev_accuracy": accuracy(network.predict(ds.X_dev), ds.y_dev),
            "test_accuracy": accuracy(network.predict(ds.X_test), ds.y_test)}


def initial_params():
    """(W1, b1, W2, b2) our network starts from (He normal, zero biases, SEED)."""
    ours = numpynet.build_network(MODEL, n_inputs=N_IN, n_classes=N_OUT, seed=SETTINGS.seed)
    dense = [layer for layer in ours.layers if isinstance(layer, numpynet.Dense)]
    return dense[0].W, dense[0].b, dense[1].W, dense[1].b


def run_floor(ds) -> dict:
    """The same training as one hand-fused NumPy loop (benchlib.hand_fused_sgd): not a learner
    anyone would ship, the reference for how fast NumPy itself goes at these shapes."""
    result = benchlib.hand_fused_sgd(ds.X_train, ds.y_train, EPOCHS, initial_params(), batch=BATCH,
                                     learning_rate=LEARNING_RATE, seed=SEED)
    network = benchlib.hand_fused_network(result.pop("params"))
    return {**result, "epochs": EPOCHS, "dtype": str(network.dtype),
            "dev_accuracy": accuracy(network.predict(ds.X_dev), ds.y_dev),
            "test_accuracy": accuracy(network.predict(ds.X_test), ds.y_test)}


def initial_torch_model():
    """784-128-10 with ReLU, starting from the very weights our network starts from (He normal,
    zero biases, same seed), so that the two differ only in the library doing the arithmetic."""
    W1, b1, W2, b2 = initial_params()
    model = torch.nn.Sequential(torch.nn.Linear(N_IN, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, N_OUT))
    with torch.no_grad():
        for linear, W, b in ((model[0], W1, b1), (model[2], W2, b2)):
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
    return model


def torch_train(model, X, y, epochs, generator):
    """The plain loop: a fresh shuffled permutation per epoch, batches of BATCH rows, SGD."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0, weight_decay=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(X)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, BATCH):
            rows = order[start:start + BATCH]
            loss = loss_fn(model(X[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def torch_accuracy(model, X, y) -> float:
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).float().mean())


def run_torch(ds, tensors) -> dict:
    X, y, X_dev, y_dev, X_test, y_test = tensors
    model = initial_torch_model()
    generator = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    torch_train(model, X, y, EPOCHS, generator)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": EPOCHS, "dtype": str(model[0].weight.dtype),
            "dev_accuracy": torch_accuracy(model, X_dev, y_dev),
            "test_accuracy": torch_accuracy(model, X_test, y_test)}


def make_sklearn(max_iter=EPOCHS):
    return MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="sgd",
                         learning_rate_init=LEARNING_RATE, learning_rate="constant", momentum=0.0,
                         nesterovs_momentum=False, batch_size=BATCH, max_iter=max_iter, alpha=0.0,
                         tol=0.0, n_iter_no_change=10 ** 9, shuffle=True, early_stopping=False,
                         random_state=SEED)


def run_sklearn(ds, floats) -> dict:
    X, X_dev, X_test = floats
    clf = make_sklearn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: that is the point
        start = time.perf_counter()
        clf.fit(X, ds.y_train)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": int(clf.n_iter_), "dtype": str(clf.coefs_[0].dtype),
            "dev_accuracy": accuracy(clf.predict(X_dev), ds.y_dev),
            "test_accuracy": accuracy(clf.predict(X_test), ds.y_test)}


def warm_up(ds, tensors, floats) -> dict:
    """One short untimed round of each learner (first 1,280 rows, 1 epoch): thread pools start,
    torch initialises its kernels. Its time is reported as part of each learner's start-up."""
    rows = min(1280, len(ds.y_train))
    seconds = {}
    start = time.perf_counter()
    net = numpynet.build_network(MODEL, seed=SEED)
    numpynet.train(net, ds.X_train[:rows], ds.y_train[:rows], None, None,
                   numpynet.TrainSettings(**{**SETTINGS.to_dict(), "epochs": 1}))
    seconds["ours"] = time.perf_counter() - start
    start = time.perf_counter()
    torch_train(initial_torch_model(), tensors[0][:rows], tensors[1][:rows], 1, torch.Generator().manual_seed(1))
    seconds["torch"] = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make_sklearn(max_iter=1).fit(floats[0][:rows], ds.y_train[:rows])
    seconds["sklearn"] = time.perf_counter() - start
    return seconds


# ----------------------------------------------------------------------------- one data set

LEARNERS = {"ours": "ours (numpynet)", "torch": f"PyTorch {torch.__version__} CPU",
            "sklearn": f"sklearn {sklearn.__version__} MLPClassifier",
            "floor": "NumPy floor (hand-fused loop)"}
PEERS = ("torch", "sklearn")


def bench_dataset(ds, repeats) -> dict:
    # Inputs for the peers, made outside the timed region: float32, scaled exactly as ours scales.
    floats = tuple(benchlib.to_float32(X) for X in (ds.X_train, ds.X_dev, ds.X_test))
    tensors = (torch.from_numpy(floats[0]), torch.from_numpy(ds.y_train.astype(np.int64)),
               torch.from_numpy(floats[1]), torch.from_numpy(ds.y_dev.astype(np.int64)),
               torch.from_numpy(floats[2]), torch.from_numpy(ds.y_test.astype(np.int64)))
    print(f"\n== {ds.name}: {ds.sizes()['train']:,} train / {ds.sizes()['dev']:,} dev / "
          f"{ds.sizes()['test']:,} test rows\n   {ds.description}", flush=True)
    warm = warm_up(ds, tensors, floats)
    runs = benchlib.round_robin({"ours": lambda: run_ours(ds),
                                 "torch": lambda: run_torch(ds, tensors),
                                 "sklearn": lambda: run_sklearn(ds, floats),
                                 "floor": lambda: run_floor(ds)}, repeats)
    flops = EPOCHS * len(ds.y_train) * FLOPS_PER_EXAMPLE
    result = {"dataset": ds.summary(), "flops": flops, "warm_up_seconds": warm, "learners": {}}
    for key, results in runs.items():
        timing = benchlib.median_spread([r["seconds"] for r in results])
        devs = sorted({r["dev_accuracy"] for r in results})
        tests = sorted({r["test_accuracy"] for r in results})
        result["learners"][key] = {
            "label": LEARNERS[key], "timing": timing, "noise": benchlib.noise(results),
            "dev_accuracy": results[0]["dev_accuracy"],
            "test_accuracy": results[0]["test_accuracy"], "dev_accuracy_all_runs": devs,
            "test_accuracy_all_runs": tests, "epochs": results[0]["epochs"], "dtype": results[0]["dtype"],
            "gflops_per_s": flops / timing["median"] / 1e9}
    result["learners"]["ours"]["setup_seconds"] = benchlib.median_spread(
        [r["setup_seconds"] for r in runs["ours"]])["median"]
    medians = {key: r["timing"]["median"] for key, r in result["learners"].items()}
    for key in (*PEERS, "floor"):
        result["learners"][key]["ours_over_peer"] = medians["ours"] / medians[key]
    for key in PEERS:
        result["learners"][key]["floor_over_peer"] = medians["floor"] / medians[key]
    return result


def print_dataset(result):
    rows = []
    for key, r in result["learners"].items():
        t = r["timing"]
        rows.append([r["label"], r["dtype"].replace("torch.", ""), r["epochs"], r["dev_accuracy"],
                     r["test_accuracy"], t["median"], t["min"], t["max"], f"{t['spread_pct']:.0f}%",
                     f"{r['gflops_per_s']:.1f}", "1.00" if key == "ours" else f"{r['ours_over_peer']:.2f}",
                     f"{100 * r['noise']['others_cpu_max']:.0f}%"])
    print(table(["learner", "dtype", "epochs", "dev acc", "leaderboard acc", "median s", "min s", "max s",
                 "spread", "GFLOP/s", "ours/peer", "others' CPU"], rows,
                f"\n{result['dataset']['name']}: 784-128-10, SGD lr {LEARNING_RATE}, batch {BATCH}, "
                f"{EPOCHS} epochs ({len(next(iter(result['learners'].values()))['timing']['runs'])} "
                f"timed runs each, median)"))
    learners = result["learners"]
    for key in PEERS:
        print(f"  ours/{key} = {learners[key]['ours_over_peer']:.2f}   "
              f"(NumPy floor/{key} = {learners[key]['floor_over_peer']:.2f})")
    print("  NumPy floor: the same training as one flat loop with no layer objects, loss value, accuracy "
          "count or divergence check (benchlib.hand_fused_sgd); ours/floor = "
          f"{learners['floor']['ours_over_peer']:.2f}")
    for key, r in learners.items():
        if len(r["dev_accuracy_all_runs"]) > 1 or len(r["test_accuracy_all_runs"]) > 1:
            print(f"  note: {r['label']} accuracy varied between runs: dev {r['dev_accuracy_all_runs']}, "
                  f"leaderboard {r['test_accuracy_all_runs']}")
    ours = learners["ours"]
    print(f"  ours: {ours['setup_seconds']:.3f} s of the {ours['timing']['median']:.3f} s (median) is train()'s "
          "set-up before the first epoch (checking the inputs)")
    warm = result["warm_up_seconds"]
    print("  warm-up (untimed, 1 epoch on <= 1,280 rows): "
          + ", ".join(f"{key} {seconds:.2f} s" for key, seconds in warm.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run: 1 repeat, small 'Kaggle-sized' set")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else benchlib.REPEATS
    threads = benchlib.limit_threads(benchlib.THREADS)
    config = benchlib.load_config()

    print("=" * 100)
    print("bench_sgd_128: 784-128-10, SGD lr 0.1, batch 128, 10 epochs, no weight decay / momentum / early "
          "stopping, constant lr")
    print(f"threads: {benchlib.THREADS} for every learner (threadpoolctl: "
          f"{', '.join(sorted({p['prefix'] + '=' + str(p['threads']) for p in threads['pools']}))}; "
          f"torch.get_num_threads() = {torch.get_num_threads()})")
    print(f"start-up, not timed: import torch {TORCH_IMPORT_SECONDS:.2f} s, import sklearn "
          f"{SKLEARN_IMPORT_SECONDS:.2f} s; {benchlib.load_note()}")
    print("timed region: ours = numpynet.train() on uint8 pixels without a dev set (includes scaling to "
          "float32; no per-epoch dev pass, like the peers); torch = the epoch loop only; sklearn = fit() on "
          "float32 inputs")
    if args.quick:
        print("QUICK run: 1 repeat, small 'Kaggle-sized' subset: numbers are not meaningful")

    peak_before = matmul_peak(runs=3 if args.quick else 7)
    print(f"float32 matmul peak (numpy, 2048^3, {benchlib.THREADS} threads): "
          f"{peak_before['gflops']:.1f} GFLOP/s (best of {peak_before['runs']})", flush=True)

    results = [bench_dataset(benchlib.default_data(config), repeats)]
    print_dataset(results[-1])
    results.append(bench_dataset(benchlib.kaggle_sized_data(config, quick=args.quick), repeats))
    print_dataset(results[-1])

    peak_after = matmul_peak(runs=3 if args.quick else 7)
    peak = max(peak_before["gflops"], peak_after["gflops"])
    print(f"\nMatmul peak vs our training\n{FLOP_FORMULA}")
    print(f"  float32 matmul peak: {peak:.1f} GFLOP/s (best of the runs before, "
          f"{peak_before['gflops']:.1f}, and after, {peak_after['gflops']:.1f})")
    rows = []
    for r in results:
        ours, floor = r["learners"]["ours"], r["learners"]["floor"]
        rows.append([r["dataset"]["name"], f"{r['flops'] / 1e9:.1f}", ours["timing"]["median"],
                     f"{ours['gflops_per_s']:.1f}", f"{100 * ours['gflops_per_s'] / peak:.1f}%",
                     f"{100 * floor['gflops_per_s'] / peak:.1f}%", f"{r['flops'] / 1e9 / peak:.3f}"])
    print(table(["data set", "GFLOP", "ours median s", "ours GFLOP/s", "ours % of peak",
                 "NumPy floor % of peak", "s at 100% of peak"], rows))

    # Targets: both data sets; the % of peak one on the Kaggle-sized set (on 2,700 rows per-call
    # overheads dominate and it is reported for information only).
    targets = []
    for r in results:
        name, learners = r["dataset"]["name"], r["learners"]
        ours = learners["ours"]
        for key in PEERS:
            peer = learners[key]
            ratio = peer["ours_over_peer"]
            dev_gap = ours["dev_accuracy"] - peer["dev_accuracy"]
            met = ratio <= 0.5 and dev_gap >= 0
            targets.append(target(
                f"{name}: ours <= 0.5x {key} time at >= dev acc", met,
                f"ours/{key} = {ratio:.2f} ({'within' if ratio <= 0.5 else 'over'} 0.5 by "
                f"{abs(0.5 - ratio):.2f}); dev acc ours {ours['dev_accuracy']:.4f} vs "
                f"{peer['dev_accuracy']:.4f} ({dev_gap * r['dataset']['dev']:+.0f} rows); "
                f"NumPy floor/{key} = {peer['floor_over_peer']:.2f}"))
    kaggle = results[-1]
    share = kaggle["learners"]["ours"]["gflops_per_s"] / peak
    targets.append(target(f"{kaggle['dataset']['name']}: ours >= 50% of matmul peak", share >= 0.5,
                          f"{100 * share:.1f}% ({kaggle['learners']['ours']['gflops_per_s']:.1f} of "
                          f"{peak:.1f} GFLOP/s; 50% needs <= {kaggle['flops'] / 1e9 / (0.5 * peak):.2f} s, "
                          f"median was {kaggle['learners']['ours']['timing']['median']:.2f} s)"))
    print()
    benchlib.print_targets(targets, args.quick)
    print(benchlib.noise_note([r for d in results for r in d["learners"].values()]))

    path = benchlib.write_json("bench_sgd_128", {
        "benchmark": "bench_sgd_128", "environment": benchlib.environment(args.quick), "threads": threads,
        "versions": {"torch": torch.__version__, "sklearn": sklearn.__version__},
        "startup_seconds": {"import_torch": TORCH_IMPORT_SECONDS, "import_sklearn": SKLEARN_IMPORT_SECONDS},
        "settings": {"model": MODEL.to_dict(), "train": SETTINGS.to_dict()},
        "flop_formula": FLOP_FORMULA, "flops_per_example_epoch": FLOPS_PER_EXAMPLE,
        "matmul_peak": {"before": peak_before, "after": peak_after, "gflops": peak},
        "datasets": results, "targets": targets,
        "total_seconds": time.perf_counter() - _started})
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
