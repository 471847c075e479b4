"""What the random shifts (train.max_shift) are worth: the default config trained with max_shift 0,
1 and 2 on the default data, over three dev splits, scored on dev and on the 2,000 held-out
("leaderboard") digits.

    .venv/bin/python benchmarks/ablation_shift.py [--shifts 0 1 2] [--split-seeds 0 1 2]

Not part of run_all (it times nothing); prints a table and writes benchmarks/out/ablation_shift.json.
"""
from __future__ import annotations

import argparse
import sys

import benchlib  # noqa: F401  (puts scripts/ on sys.path)
import numpy as np

import numpynet
from benchlib import accuracy, table


def run(config, max_shift, split_seed) -> dict:
    ds = benchlib.default_data({**config, "split": {**config["split"], "seed": split_seed}})
    model = numpynet.ModelSettings.from_dict(config["model"])
    train = numpynet.TrainSettings.from_dict({**config["train"], "max_shift": max_shift})
    network = numpynet.build_network(model, seed=train.seed)
    history = numpynet.train(network, ds.X_train, ds.y_train, ds.X_dev, ds.y_dev, train)
    return {"max_shift": max_shift, "split_seed": split_seed, "epochs": len(history),
            "dev_accuracy": accuracy(network.predict(ds.X_dev), ds.y_dev),
            "leaderboard_accuracy": accuracy(network.predict(ds.X_test), ds.y_test)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shifts", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    benchlib.limit_threads(benchlib.THREADS)
    config = benchlib.load_config()
    print(f"default config ({config['model']['hidden']}, {config['train']['optimizer']} "
          f"lr {config['train']['learning_rate']:g}, {config['train']['epochs']} epochs) on the default data; "
          f"dev splits with seeds {args.split_seeds}")
    results = [run(config, shift, seed) for shift in args.shifts for seed in args.split_seeds]
    rows = []
    for shift in args.shifts:
        mine = [r for r in results if r["max_shift"] == shift]
        dev = [r["dev_accuracy"] for r in mine]
        board = [r["leaderboard_accuracy"] for r in mine]
        rows.append([shift, " ".join(f"{d:.4f}" for d in dev), f"{np.mean(dev):.4f}",
                     " ".join(f"{b:.4f}" for b in board), f"{np.mean(board):.4f}",
                     " ".join(str(r["epochs"]) for r in mine)])
    print(table(["max_shift", "dev accuracy per split", "dev mean", "leaderboard per split",
                 "leaderboard mean", "epochs run"], rows))
    path = benchlib.write_json("ablation_shift", {"benchmark": "ablation_shift", "config": config,
                                                  "results": results})
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
