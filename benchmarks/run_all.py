"""Run every benchmark in order, each in its own process, then print all targets together.

    .venv/bin/python benchmarks/run_all.py [--quick]      (or: make bench)

Each benchmark prints its tables and writes benchmarks/out/<name>.json; this script adds
benchmarks/out/summary.json. --quick is a short smoke run whose numbers mean nothing.
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
BENCHMARKS = ("bench_sgd_128", "bench_default", "bench_memory")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 repeat, small sets)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sys.path.insert(0, str(HERE))
    import benchlib

    load_start = os.getloadavg()
    print(f"run_all: {', '.join(BENCHMARKS)}{' (QUICK)' if args.quick else ''}; {benchlib.load_note(2.0)}; "
          f"load average {load_start[0]:.2f} / {load_start[1]:.2f} (1 / 5 min)", flush=True)
    seconds, failed = {}, []
    for name in BENCHMARKS:
        start = time.perf_counter()
        # Separate processes: no library loaded by one benchmark (torch, its OpenMP pool) stays
        # around in the next, and the memory benchmark starts from a clean slate.
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else []))
        seconds[name] = time.perf_counter() - start
        print(f"-- {name} finished in {seconds[name]:.1f} s (exit code {code})\n", flush=True)
        if code != 0:
            failed.append(name)

    targets, noisy = [], []
    for name in BENCHMARKS:
        path = benchlib.OUT / f"{name}.json"
        if name in failed or not path.is_file():
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        targets += [{**t, "target": f"[{name}] {t['target']}"} for t in result["targets"]]
        for dataset in result.get("datasets", {}).values() if isinstance(result.get("datasets"), dict) \
                else result.get("datasets", []):
            for learner in dataset["learners"].values():
                noisy.append(learner["noise"]["others_cpu_max"])
    total = time.perf_counter() - started
    load_end = os.getloadavg()
    print("=" * 100)
    benchlib.print_targets(targets, args.quick)
    met = sum(1 for t in targets if t["met"])
    print(f"\n{met} of {len(targets)} targets met" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"total {total:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())})")
    if noisy:
        worst = max(noisy)
        print(f"other processes took at most {100 * worst:.0f}% of the CPUs during any timed run"
              + (f"  <-- over {100 * benchlib.NOISY:.0f}%: some timings are noisy; rerun when the machine is quiet"
                 if worst > benchlib.NOISY else " (quiet enough)"))
    path = benchlib.write_json("summary", {"quick": args.quick, "benchmarks": list(BENCHMARKS), "failed": failed,
                                           "seconds": seconds, "total_seconds": total,
                                           "load_average_start": load_start, "load_average_end": load_end,
                                           "others_cpu_max": max(noisy) if noisy else None,
                                           "targets": targets})
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
