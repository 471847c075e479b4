"""The pipeline's default network (config.yaml's model and train sections) vs scikit-learn's
MLPClassifier with its own defaults and vs MLPClassifier set up like ours.

    .venv/bin/python benchmarks/bench_default.py [--quick]

On the default data: dev and leaderboard accuracy (and time) of all three. On the Kaggle-sized
(derived) set: time of our default config vs MLPClassifier's defaults. Prints tables and writes
benchmarks/out/bench_default.json.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

_started = time.perf_counter()
import benchlib  # noqa: E402  (puts scripts/ on sys.path)

_t = time.perf_counter()
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

SKLEARN_IMPORT_SECONDS = time.perf_counter() - _t

import numpynet  # noqa: E402
from benchlib import accuracy, table, target  # noqa: E402

QUICK_EPOCHS = 3        # --quick caps our epochs ...
QUICK_SKLEARN_ITER = 5  # ... and MLPClassifier's max_iter
SKLEARN_ACTIVATION = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}


def settings_from_config(config, quick):
    model = numpynet.ModelSettings.from_dict(config["model"])
    train = numpynet.TrainSettings.from_dict(config["train"])
    if quick:
        train = numpynet.TrainSettings(**{**train.to_dict(), "epochs": min(train.epochs, QUICK_EPOCHS)})
    return model, train


def run_ours(ds, model, train, shared) -> dict:
    network = numpynet.build_network(model, n_inputs=784, n_classes=10, seed=train.seed)
    start = time.perf_counter()
    history = numpynet.train(network, ds.X_train, ds.y_train, ds.X_dev, ds.y_dev, train)
    seconds = time.perf_counter() - start
    shared["epochs_run"] = len(history)
    return {"seconds": seconds, "epochs": len(history),
            "dev_accuracy": accuracy(network.predict(ds.X_dev), ds.y_dev),
            "test_accuracy": accuracy(network.predict(ds.X_test), ds.y_test)}


def sklearn_defaults(quick):
    extra = {"max_iter": QUICK_SKLEARN_ITER} if quick else {}
    return MLPClassifier(random_state=0, **extra)


def sklearn_matched(model, train, epochs):
    """Our architecture and optimiser in MLPClassifier, for exactly ``epochs`` epochs."""
    batch = train.batch_size if train.batch_size != "full" else "auto"
    return MLPClassifier(hidden_layer_sizes=tuple(model.hidden),
                         activation=SKLEARN_ACTIVATION.get(model.activation, "relu"),
                         solver="adam", learning_rate_init=train.learning_rate,
                         beta_1=train.beta1, beta_2=train.beta2, batch_size=batch,
                         alpha=train.weight_decay, early_stopping=False, max_iter=epochs,
                         tol=0.0, n_iter_no_change=10 ** 9, shuffle=True, random_state=0)


def run_sklearn(make, ds, floats) -> dict:
    X, X_dev, X_test = floats
    clf = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X, ds.y_train)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": int(clf.n_iter_),
            "stopped_by": "max_iter" if any(issubclass(w.category, ConvergenceWarning) for w in caught)
            else "tol (training loss stalled)",
            "dev_accuracy": accuracy(clf.predict(X_dev), ds.y_dev),
            "test_accuracy": accuracy(clf.predict(X_test), ds.y_test)}


def summarise(runs: dict, labels: dict) -> dict:
    out = {}
    for key, results in runs.items():
        out[key] = {"label": labels[key], "timing": benchlib.median_spread([r["seconds"] for r in results]),
                    "noise": benchlib.noise(results),
                    "dev_accuracy": results[0]["dev_accuracy"], "test_accuracy": results[0]["test_accuracy"],
                    "dev_accuracy_all_runs": sorted({r["dev_accuracy"] for r in results}),
                    "test_accuracy_all_runs": sorted({r["test_accuracy"] for r in results}),
                    "epochs": results[0]["epochs"], "epochs_all_runs": sorted({r["epochs"] for r in results}),
                    "stopped_by": results[0].get("stopped_by", "")}
    ours = out["ours"]["timing"]["median"]
    for key in out:
        out[key]["ours_over_this"] = ours / out[key]["timing"]["median"]
    return out


def print_results(title, learners):
    rows = []
    for key, r in learners.items():
        t = r["timing"]
        rows.append([r["label"], r["epochs"], r["dev_accuracy"], r["test_accuracy"], t["median"], t["min"],
                     t["max"], f"{t['spread_pct']:.0f}%", f"{r['ours_over_this']:.2f}",
                     f"{100 * r['noise']['others_cpu_max']:.0f}%"])
    print(table(["learner", "epochs", "dev acc", "leaderboard acc", "median s", "min s", "max s", "spread",
                 "ours/this", "others' CPU"], rows, title))
    for key, r in learners.items():
        if len(r["dev_accuracy_all_runs"]) > 1 or len(r["epochs_all_runs"]) > 1:
            print(f"  note: {r['label']} varied between runs: dev {r['dev_accuracy_all_runs']}, "
                  f"epochs {r['epochs_all_runs']}")
        if r["stopped_by"]:
            print(f"  {r['label']}: stopped by {r['stopped_by']} after {r['epochs']} epochs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"short smoke run: 1 repeat, {QUICK_EPOCHS} epochs, small 'Kaggle-sized' set")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else benchlib.REPEATS
    threads = benchlib.limit_threads(benchlib.THREADS)
    config = benchlib.load_config()
    model, train = settings_from_config(config, args.quick)

    print("=" * 100)
    print("bench_default: the pipeline's default config vs scikit-learn MLPClassifier")
    print(f"config.yaml model: {model.to_dict()}")
    print(f"config.yaml train: {train.to_dict()}")
    print(f"threads: {benchlib.THREADS} (threadpoolctl: "
          f"{', '.join(sorted({p['prefix'] + '=' + str(p['threads']) for p in threads['pools']}))}); "
          f"import sklearn {SKLEARN_IMPORT_SECONDS:.2f} s (not timed); {benchlib.load_note()}")
    print("peers: MLPClassifier(random_state=0) with its own defaults (hidden (100,), adam lr 1e-3, "
          "batch 200, alpha 1e-4, max_iter 200, stops when the training loss improves < tol 1e-4 for 10 epochs);")
    print(f"       MLPClassifier 'matched': hidden {tuple(model.hidden)}, adam lr {train.learning_rate:g}, "
          f"batch {train.batch_size}, alpha {train.weight_decay:g}, no early stopping, max_iter = the epochs "
          "our run used (tol 0, so it runs them all)")
    print("       differences the matched peer cannot copy: no dropout "
          f"(ours {model.dropout:g}), constant lr (ours {train.schedule}), no random shifts of the training "
          f"images (ours up to {train.max_shift} px), alpha is divided by the batch size "
          "in sklearn's gradient (ours adds weight_decay * W as is), no restoring of the best epoch, "
          "Glorot-uniform init (ours " + model.init + ")")
    if args.quick:
        print(f"QUICK run: 1 repeat, epochs capped at {QUICK_EPOCHS}, MLPClassifier max_iter "
              f"{QUICK_SKLEARN_ITER}, small 'Kaggle-sized' subset: numbers are not meaningful")

    results = {}
    labels = {"ours": "ours (numpynet, config.yaml)", "sk_defaults": f"sklearn {sklearn.__version__} defaults",
              "sk_matched": f"sklearn {sklearn.__version__} matched"}

    # -- default data: accuracy of all three (and their times)
    ds = benchlib.default_data(config)
    floats = tuple(benchlib.to_float32(X) for X in (ds.X_train, ds.X_dev, ds.X_test))
    print(f"\n== {ds.name}: {ds.sizes()['train']:,} train / {ds.sizes()['dev']:,} dev / "
          f"{ds.sizes()['test']:,} test rows\n   {ds.description}", flush=True)
    shared = {}
    runs = benchlib.round_robin({
        "ours": lambda: run_ours(ds, model, train, shared),
        "sk_defaults": lambda: run_sklearn(lambda: sklearn_defaults(args.quick), ds, floats),
        # ours runs first in every round, so shared["epochs_run"] is set by then
        "sk_matched": lambda: run_sklearn(lambda: sklearn_matched(model, train, shared["epochs_run"]), ds, floats),
    }, repeats)
    default = summarise(runs, labels)
    results["default"] = {"dataset": ds.summary(), "learners": default}
    print_results(f"\n{ds.name}: accuracy ({repeats} timed runs each, median time)", default)

    # -- Kaggle-sized: time of ours vs MLPClassifier defaults
    ds = benchlib.kaggle_sized_data(config, quick=args.quick)
    floats = tuple(benchlib.to_float32(X) for X in (ds.X_train, ds.X_dev, ds.X_test))
    print(f"\n== {ds.name}: {ds.sizes()['train']:,} train / {ds.sizes()['dev']:,} dev / "
          f"{ds.sizes()['test']:,} test rows\n   {ds.description}", flush=True)
    runs = benchlib.round_robin({
        "ours": lambda: run_ours(ds, model, train, {}),
        "sk_defaults": lambda: run_sklearn(lambda: sklearn_defaults(args.quick), ds, floats),
    }, repeats)
    kaggle = summarise(runs, labels)
    results["kaggle_sized"] = {"dataset": ds.summary(), "learners": kaggle}
    print_results(f"\n{ds.name}: time ({repeats} timed runs each, median)", kaggle)
    for key, r in kaggle.items():
        per_epoch = r["timing"]["median"] / r["epochs"]
        print(f"  {r['label']}: {per_epoch:.3f} s per epoch ({r['epochs']} epochs)")
    print(f"  ours/sklearn defaults = {kaggle['sk_defaults']['ours_over_this']:.2f}")

    ours = default["ours"]
    targets = []
    for key in ("sk_defaults", "sk_matched"):
        peer = default[key]
        gap = ours["dev_accuracy"] - peer["dev_accuracy"]
        lb_gap = ours["test_accuracy"] - peer["test_accuracy"]
        targets.append(target(
            f"default data: ours beats {labels[key]} on dev acc", gap > 0,
            f"dev {ours['dev_accuracy']:.4f} vs {peer['dev_accuracy']:.4f} ({gap * ds_rows(results, 'default', 'dev'):+.0f} "
            f"rows); leaderboard {ours['test_accuracy']:.4f} vs {peer['test_accuracy']:.4f} "
            f"({lb_gap * ds_rows(results, 'default', 'test'):+.0f} rows)"))
    ratio = kaggle["sk_defaults"]["ours_over_this"]
    targets.append(target(
        f"{results['kaggle_sized']['dataset']['name']}: ours faster than sklearn defaults", ratio < 1,
        f"ours {kaggle['ours']['timing']['median']:.1f} s ({kaggle['ours']['epochs']} epochs) vs "
        f"{kaggle['sk_defaults']['timing']['median']:.1f} s ({kaggle['sk_defaults']['epochs']} epochs): "
        f"ours/sklearn = {ratio:.2f}"))
    print()
    benchlib.print_targets(targets, args.quick)
    print(benchlib.noise_note([r for d in results.values() for r in d["learners"].values()]))
    path = benchlib.write_json("bench_default", {
        "benchmark": "bench_default", "environment": benchlib.environment(args.quick), "threads": threads,
        "versions": {"sklearn": sklearn.__version__},
        "startup_seconds": {"import_sklearn": SKLEARN_IMPORT_SECONDS},
        "settings": {"model": model.to_dict(), "train": train.to_dict()},
        "datasets": results, "targets": targets, "total_seconds": time.perf_counter() - _started})
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


def ds_rows(results, key, part):
    return results[key]["dataset"][part]


if __name__ == "__main__":
    sys.exit(main())
