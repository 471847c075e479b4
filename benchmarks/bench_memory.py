"""Peak memory of training the default config (config.yaml) on the Kaggle-sized (derived) set.

    .venv/bin/python benchmarks/bench_memory.py [--quick]

The parent writes the train/dev split files the way the pipeline's split rule does, then runs a
child process that does what the train rule does and nothing more: import scripts/train.py (numpy,
numpynet), load the two split files, and train. The peak resident set of that child is its ru_maxrss
from os.wait4 (the rusage of exactly that child), taken while the launching process is still
small; the child also reports its own /proc/self/status VmHWM after each stage. Prints a table
and writes benchmarks/out/bench_memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT_MIB = 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def child(split_dir: str, settings_json: str, threads: int) -> None:
    """Only what the train rule does: imports, load the splits, train. Reports JSON on stdout."""
    stages = {"start": _status_kib("VmHWM")}
    sys.path.insert(0, str(HERE.parent / "scripts"))
    import common
    import train as train_rule  # the rule script's own module: numpy, common, numpynet

    common.set_blas_threads(threads)
    stages["imports"] = _status_kib("VmHWM")
    X_train, y_train = train_rule.load_split(Path(split_dir) / "train.npz")
    X_dev, y_dev = train_rule.load_split(Path(split_dir) / "dev.npz")
    stages["data_loaded"] = _status_kib("VmHWM")
    model, settings = train_rule.parse_settings(settings_json)
    start = time.perf_counter()
    _, history = train_rule.fit(X_train, y_train, X_dev, y_dev, model, settings)
    seconds = time.perf_counter() - start
    stages["trained"] = _status_kib("VmHWM")
    print(json.dumps({"vmhwm_kib": stages, "epochs": len(history), "seconds": seconds,
                      "rows": {"train": int(len(y_train)), "dev": int(len(y_dev))}}))


def prepare(quick: bool) -> None:
    """Write the split files (as the split rule does) and print what the parent needs, as JSON."""
    import benchlib
    import dataio

    config = benchlib.load_config()
    train = dict(config["train"])
    if quick:
        train["epochs"] = min(train["epochs"], 3)
    ds = benchlib.kaggle_sized_data(config, quick=quick)
    split_dir = benchlib.OUT / ("memory_split_quick" if quick else "memory_split")
    dataio.save_split(split_dir / "train.npz", ds.X_train, ds.y_train)
    dataio.save_split(split_dir / "dev.npz", ds.X_dev, ds.y_dev)
    print(json.dumps({"split_dir": str(split_dir), "threads": config["threads"], "dataset": ds.summary(),
                      "settings": {"model": config["model"], "train": train},
                      "float32_inputs_mib": (ds.X_train.size + ds.X_dev.size) * 4 / 2 ** 20}))


def _run(argv, rusage=False):
    """Run this script with ``argv``; (its last stdout line as JSON, its own rusage or None).

    os.wait4 gives the resource use of exactly that child, whatever else this process ran.
    """
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *argv],
                               stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"bench_memory: {argv[0]} child failed with exit code {process.returncode}")
    return json.loads(output.strip().splitlines()[-1]), (usage if rusage else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run: small subset, 3 epochs")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("SPLIT_DIR", "SETTINGS_JSON", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if args.prepare:
        prepare(args.quick)
        return 0

    # This process stays small (standard library only) until the training child has run: a
    # child started with vfork/fork carries its parent's peak RSS into ru_maxrss across exec.
    prepared, _ = _run(["--prepare"] + (["--quick"] if args.quick else []))
    settings_json = json.dumps(prepared["settings"], sort_keys=True)
    parent_peak_kib = _status_kib("VmHWM")
    report, usage = _run(["--child", prepared["split_dir"], settings_json, str(prepared["threads"])],
                         rusage=True)
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux

    import benchlib
    from benchlib import table, target

    ds = prepared["dataset"]
    print("=" * 100)
    print("bench_memory: peak memory of training the default config on the Kaggle-sized (derived) set")
    print(f"  {ds['name']}: {ds['train']:,} train / {ds['dev']:,} dev rows (uint8 split files, "
          f"as the split rule writes them); settings {settings_json}")
    print("  the child process imports scripts/train.py, loads the splits with train.load_split and runs "
          f"train.fit with {prepared['threads']} BLAS threads; nothing else")
    if args.quick:
        print("QUICK run: small subset, 3 epochs: numbers are not meaningful")
    stages = report["vmhwm_kib"]
    rows = [[f"child VmHWM after {stage}", f"{kib / 1024:.1f}"] for stage, kib in stages.items()]
    rows.append(["child ru_maxrss (os.wait4 rusage)", f"{peak_mib:.1f}"])
    print(table(["peak resident set", "MiB"], rows))
    print(f"  (the launching process peaked at {parent_peak_kib / 1024:.1f} MiB before the start, "
          "so it cannot account for the child's ru_maxrss)")
    print(f"  for scale: the float32 copies of the train and dev pixels alone are "
          f"{prepared['float32_inputs_mib']:.1f} MiB; training raised the peak by "
          f"{(stages['trained'] - stages['data_loaded']) / 1024:.1f} MiB")
    print(f"  the child trained {report['epochs']} epochs in {report['seconds']:.1f} s")
    targets = [target("peak memory of default-config training on 42k rows < 1 GiB", peak_mib < LIMIT_MIB,
                      f"{peak_mib:.0f} MiB ({LIMIT_MIB - peak_mib:.0f} MiB below 1 GiB)"
                      if peak_mib < LIMIT_MIB else f"{peak_mib:.0f} MiB ({peak_mib - LIMIT_MIB:.0f} MiB over)")]
    print()
    benchlib.print_targets(targets, args.quick)
    path = benchlib.write_json("bench_memory", {
        "benchmark": "bench_memory", "environment": benchlib.environment(args.quick), "dataset": ds,
        "settings": prepared["settings"], "child": report, "peak_rss_mib": peak_mib,
        "launcher_peak_mib": parent_peak_kib / 1024, "targets": targets})
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
