"""The benchmarks' NumPy floor must train the very network numpynet.train trains, or comparing
the two (and the peers against it) would measure different work."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import benchlib  # noqa: E402

import numpynet as nn  # noqa: E402


def test_hand_fused_floor_trains_the_same_network_as_numpynet(digits):
    X, y = (array[:1000] for array in digits)  # 7 batches of 128 and one of 104
    model = nn.ModelSettings(hidden=(32,), activation="relu", init="he", dropout=0.0)
    settings = nn.TrainSettings(optimizer="sgd", learning_rate=0.1, batch_size=128, epochs=2,
                                schedule="constant", weight_decay=0.0, max_shift=0,
                                early_stopping=False, seed=3)
    network = nn.build_network(model, seed=5)
    initial = [p.copy() for p in network.params()]
    nn.train(network, X, y, None, None, settings)

    floor = benchlib.hand_fused_sgd(X, y, 2, initial, batch=128, learning_rate=0.1, seed=3)
    assert floor["seconds"] > 0
    assert not np.array_equal(network.params()[0], initial[0])  # it did train
    for trained, by_floor in zip(network.params(), floor["params"]):
        # Only the order of float32 sums differs (numpynet sums bias gradients by BLAS).
        np.testing.assert_allclose(by_floor, trained, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(benchlib.hand_fused_network(floor["params"]).predict(X), network.predict(X))
    # and the initial weights handed in are left alone
    assert all(np.array_equal(a, b) for a, b in zip(initial, nn.build_network(model, seed=5).params()))
