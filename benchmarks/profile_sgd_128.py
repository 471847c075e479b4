"""Where the time of our 784-128-10 SGD epoch goes: each step of a batch timed on its own.

    .venv/bin/python benchmarks/profile_sgd_128.py [--rows N] [--threads T] [--epochs E]

Not part of run_all: a diagnostic for numpynet.py. It drives numpynet's own layer objects through
the same steps as numpynet.train (gather the batch, forward, loss, backward, update) and times each
with perf_counter, then times the same five matrix products alone (the BLAS ceiling at these shapes),
the whole numpynet.train call, and last the same training as one hand-fused loop (the floor for
NumPy at these shapes). Uses the Kaggle-sized (derived) training rows.
"""
from __future__ import annotations

import argparse
import time

import benchlib  # noqa: F401  (puts scripts/ on sys.path)
import numpy as np

import numpynet

FLOPS_PER_EXAMPLE = 409_088  # see bench_sgd_128.py


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=37_800)
    parser.add_argument("--threads", type=int, default=benchlib.THREADS)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    benchlib.limit_threads(args.threads)
    config = benchlib.load_config()
    ds = benchlib.kaggle_sized_data(config)
    X_raw, y_raw = ds.X_train[:args.rows], ds.y_train[:args.rows]
    model = numpynet.ModelSettings(hidden=(128,), activation="relu", init="he", dropout=0.0)
    settings = numpynet.TrainSettings(optimizer="sgd", learning_rate=0.1, batch_size=128, epochs=args.epochs,
                                      schedule="constant", weight_decay=0.0, max_shift=0,
                                      early_stopping=False)
    print(f"{benchlib.load_note()}; {len(y_raw):,} rows, {args.threads} threads, {args.epochs} epochs")

    # 1. the whole call, as the benchmark times it
    net = numpynet.build_network(model)
    start = time.perf_counter()
    numpynet.train(net, X_raw, y_raw, None, None, settings)
    whole = time.perf_counter() - start
    flops = args.epochs * len(y_raw) * FLOPS_PER_EXAMPLE

    # 2. step by step, with numpynet's own objects
    net = numpynet.build_network(model)
    dense1, relu, dense2 = net.layers
    X, y = net.scale_inputs(X_raw), y_raw.astype(np.intp)
    optimizer = numpynet.make_optimizer(settings)
    params, grads = net.params(), net.grads()
    rng = np.random.default_rng(0)
    batch_x, batch_y = np.empty((128, 784), np.float32), np.empty(128, np.intp)
    steps = ["permutation", "gather (X.take, y.take)", "dense1.forward (matmul 128x784 @ 784x128 + b)",
             "relu.forward", "dense2.forward", "argmax/count (train accuracy)", "softmax_cross_entropy",
             "dense2.backward (dW2, db2, dx)", "relu.backward", "dense1.backward (dW1 784x128, db1)",
             "optimizer.step (SGD)", "dev evaluation (pipeline only; not in the benchmark)"]
    spent = dict.fromkeys(steps, 0.0)
    clock = time.perf_counter
    total_start = clock()
    for _ in range(args.epochs):
        t = clock(); order = rng.permutation(len(X)); spent[steps[0]] += clock() - t
        for s in range(0, len(X), 128):
            rows = order[s:s + 128]
            xb, yb = batch_x[:len(rows)], batch_y[:len(rows)]
            t0 = clock()
            X.take(rows, axis=0, out=xb, mode="clip"); y.take(rows, out=yb, mode="clip")
            t1 = clock(); h = dense1.forward(xb, True)
            t2 = clock(); a = relu.forward(h, True)
            t3 = clock(); logits = dense2.forward(a, True)
            t4 = clock(); int(np.count_nonzero(logits.argmax(axis=1) == yb))
            t5 = clock(); numpynet.softmax_cross_entropy(logits, yb, grad_out=logits)
            t6 = clock(); g = dense2.backward(logits, True)
            t7 = clock(); g = relu.backward(g, True)
            t8 = clock(); dense1.backward(g, False)
            t9 = clock(); optimizer.step(params, grads, 0.1)
            t10 = clock()
            for name, a_, b_ in zip(steps[1:11], (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9),
                                    (t1, t2, t3, t4, t5, t6, t7, t8, t9, t10)):
                spent[name] += b_ - a_
        t = clock(); numpynet._evaluate(net, net.scale_inputs(ds.X_dev), ds.y_dev.astype(np.intp))
        spent[steps[-1]] += clock() - t
    stepped = clock() - total_start

    # 3. only the five matrix products of a batch, same shapes, same buffers
    W1, W2 = dense1.W, dense2.W
    h = np.empty((128, 128), np.float32); o = np.empty((128, 10), np.float32)
    dW1, dW2, da = np.empty_like(W1), np.empty_like(W2), np.empty((128, 128), np.float32)
    xb = X[:128].copy()
    n_batches = args.epochs * -(-len(X) // 128)
    start = clock()
    for _ in range(n_batches):
        np.matmul(xb, W1, out=h); np.matmul(h, W2, out=o)
        np.matmul(h.T, o, out=dW2); np.matmul(o, W2.T, out=da); np.matmul(xb.T, da, out=dW1)
    matmuls = clock() - start
    single = {}
    for name, fn in [("x @ W1   (128x784 @ 784x128)", lambda: np.matmul(xb, W1, out=h)),
                     ("x.T @ d  (784x128 @ 128x128)", lambda: np.matmul(xb.T, da, out=dW1))]:
        start = clock()
        for _ in range(n_batches):
            fn()
        single[name] = clock() - start

    fused = benchlib.hand_fused_sgd(X_raw, y_raw, args.epochs, (dense1.W, dense1.b, dense2.W, dense2.b))["seconds"]

    print(f"\nnumpynet.train, whole call: {whole:.3f} s = {flops / whole / 1e9:.1f} GFLOP/s")
    print(f"step by step (instrumented): {stepped:.3f} s")
    rows = [[name, f"{sec:.3f}", f"{100 * sec / stepped:.0f}%", f"{1e6 * sec / n_batches:.1f}"]
            for name, sec in spent.items()]
    print(benchlib.table(["step", "seconds", "share", "us per batch"], rows))
    print(f"\nthe five matmuls alone, {n_batches} batches: {matmuls:.3f} s = {flops / matmuls / 1e9:.1f} GFLOP/s "
          f"({1e6 * matmuls / n_batches:.0f} us per batch)")
    for name, sec in single.items():
        print(f"  {name} alone: {1e6 * sec / n_batches:.0f} us per batch, "
              f"{2 * 128 * 784 * 128 * n_batches / sec / 1e9:.1f} GFLOP/s")
    print(f"the same training as one hand-fused loop (no layer objects, no accuracy count, no dev pass): "
          f"{fused:.3f} s = {flops / fused / 1e9:.1f} GFLOP/s ({1e6 * fused / n_batches:.0f} us per batch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
