"""Tests of the NumPy network: gradients, loss, optimizers, schedules, training, model file, settings."""
from __future__ import annotations

import dataclasses
import io
import json
import math
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from hypothesis.extra import numpy as hnp

import numpynet as nn
from common import UserError
from numpynet import ModelSettings, TrainSettings

F64 = np.float64


# ----------------------------------------------------------------------------- helpers

def numerical_gradient(f, array, eps=1e-6):
    """Centred differences of the scalar f() with respect to each entry of ``array`` (in place)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        up = f()
        array[index] = saved - eps
        down = f()
        array[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return np.linalg.norm(analytic - numeric) / scale if scale else 0.0


def away_from_zero(rng, shape):
    # Kinks (ReLU at 0) break finite differences; keep every input clear of them.
    values = rng.standard_normal(shape)
    return np.sign(values) * (0.05 + np.abs(values))


def check_layer_gradients(layer, x, rng, training=True, before_forward=lambda: None):
    """Check d/dx and d/dparams of sum(layer(x) * R) for a fixed random R."""
    before_forward()
    R = rng.standard_normal(layer.forward(x, training).shape)

    def f():
        before_forward()
        return float(np.sum(layer.forward(x, training) * R))

    f()
    dx = layer.backward(R.copy()).copy()
    analytic = [g.copy() for g in layer.grads]
    assert relative_error(dx, numerical_gradient(f, x)) < 1e-6
    for p, g in zip(layer.params, analytic):
        assert relative_error(g, numerical_gradient(f, p)) < 1e-6


def small_network(activation="relu", dropout=0.0, seed=1):
    model = ModelSettings(hidden=(5, 4), activation=activation, dropout=dropout)
    network = nn.build_network(model, n_inputs=6, n_classes=3, seed=seed, dtype=F64)
    # Non-zero biases: with zero ones a row whose units all dropped out sits exactly on ReLU's kink.
    for layer in network.layers:
        if isinstance(layer, nn.Dense):
            layer.b[:] = np.random.default_rng(seed).uniform(0.1, 0.5, layer.b.shape)
    return network


def quick_settings(**overrides):
    values = dict(epochs=2, batch_size=64, early_stopping=False, schedule="constant")
    values.update(overrides)
    return TrainSettings(**values)


# ----------------------------------------------------------------------------- gradients

def test_dense_gradients():
    rng = np.random.default_rng(0)
    layer = nn.Dense(rng.standard_normal((5, 4)), rng.standard_normal(4))
    check_layer_gradients(layer, rng.standard_normal((3, 5)), rng)


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
def test_activation_gradients(activation):
    rng = np.random.default_rng(1)
    check_layer_gradients(nn.ACTIVATION_LAYERS[activation](), away_from_zero(rng, (4, 6)), rng)


def test_dropout_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(2)
    layer = nn.Dropout(0.4)

    def same_mask():
        layer.rng = np.random.default_rng(7)

    check_layer_gradients(layer, rng.standard_normal((5, 8)), rng, before_forward=same_mask)
    same_mask()
    out = layer.forward(np.ones((50, 40)), training=True)
    assert set(np.unique(out)) == {0.0, 1 / 0.6}  # inverted dropout: kept units scaled up
    assert layer.forward(np.ones((3, 4)), training=False).tolist() == np.ones((3, 4)).tolist()


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_drops_the_configured_share_of_units(rate):
    layer = nn.Dropout(rate, rng=np.random.default_rng(0))
    out = layer.forward(np.ones((200, 1001), np.float32), training=True)
    dropped = np.mean(out == 0)
    assert abs(dropped - rate) < 0.005  # 200,200 units: the sampling error is about 0.001
    assert abs(out.mean() - 1.0) < 0.02  # kept units scaled so the expected output is unchanged


def test_loss_gradient():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    grad = np.empty_like(logits)
    nn.softmax_cross_entropy(logits, labels, grad_out=grad)
    numeric = numerical_gradient(lambda: nn.softmax_cross_entropy(logits, labels), logits)
    assert relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_whole_network_gradients(activation, dropout):
    rng = np.random.default_rng(4)
    network = small_network(activation, dropout)
    x, labels = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)

    def loss():
        for layer in network.layers:  # the same dropout mask for every evaluation
            if isinstance(layer, nn.Dropout):
                layer.rng = np.random.default_rng(5)
        return nn.softmax_cross_entropy(network.forward(x, training=True), labels)

    loss()
    grad = np.empty((7, 3))
    for layer in network.layers:
        if isinstance(layer, nn.Dropout):
            layer.rng = np.random.default_rng(5)
    nn.softmax_cross_entropy(network.forward(x, training=True), labels, grad_out=grad)
    network.backward(grad)
    analytic = [g.copy() for g in network.grads()]
    assert len(analytic) == 6
    for p, g in zip(network.params(), analytic):
        assert relative_error(g, numerical_gradient(loss, p)) < 1e-6


# ----------------------------------------------------------------------------- loss

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_is_stable_at_huge_logits(dtype):
    logits = np.array([[1e4, 0, -1e4], [-1e4, 1e4, 0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.softmax_cross_entropy(logits, np.array([0, 1])) == pytest.approx(0.0, abs=1e-6)
        grad = np.empty_like(logits)
        loss = nn.softmax_cross_entropy(logits, np.array([1, 0]), grad_out=grad)
        probabilities = nn.softmax(logits)
    assert loss == pytest.approx((1e4 + 2e4) / 2)
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [-0.5, 0.5, 0]], atol=1e-6)


@hypothesis_settings(max_examples=60, deadline=None)
@given(hnp.arrays(F64, st.tuples(st.integers(1, 6), st.integers(2, 5)),
                  elements=st.floats(-1e4, 1e4)), st.data())
def test_loss_and_gradient_properties(logits, data):
    labels = np.array(data.draw(st.lists(st.integers(0, logits.shape[1] - 1),
                                         min_size=len(logits), max_size=len(logits))))
    grad = np.empty_like(logits)
    loss = nn.softmax_cross_entropy(logits, labels, grad_out=grad)
    assert math.isfinite(loss) and loss >= -1e-9
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-9)  # softmax and one-hot both sum to 1


# ----------------------------------------------------------------------------- optimizers

def make_optimizer(name, **settings):
    return nn.make_optimizer(TrainSettings(optimizer=name, **settings))


@pytest.mark.parametrize("name,lr", [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05),
                                     ("adam", 0.05)])
def test_each_optimizer_reduces_a_quadratic(name, lr):
    rng = np.random.default_rng(6)
    targets = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    params = [np.zeros((3, 4)), np.zeros(4)]
    optimizer = make_optimizer(name, weight_decay=0.0)

    def loss():
        return sum(0.5 * np.sum((p - t) ** 2) for p, t in zip(params, targets))

    start = loss()
    for _ in range(300):
        optimizer.step(params, [p - t for p, t in zip(params, targets)], lr)
    assert loss() < 1e-3 * start


def two_steps(name, **settings):
    """Run two steps of an optimizer from p0 with gradients g1 then g2; return p1, p2."""
    p = np.array([1.0, -2.0, 0.5])
    optimizer = make_optimizer(name, weight_decay=0.0, **settings)
    optimizer.step([p], [np.array([0.5, -1.0, 2.0])], 0.1)
    p1 = p.copy()
    optimizer.step([p], [np.array([-0.25, 0.5, 1.0])], 0.1)
    return p1, p


def test_sgd_step_by_hand():
    p1, p2 = two_steps("sgd")
    np.testing.assert_allclose(p1, [1.0 - 0.05, -2.0 + 0.1, 0.5 - 0.2])
    np.testing.assert_allclose(p2, p1 - 0.1 * np.array([-0.25, 0.5, 1.0]))


def test_momentum_and_nesterov_steps_by_hand():
    p0, g1, g2, lr, mu = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0]), \
        np.array([-0.25, 0.5, 1.0]), 0.1, 0.8
    v1 = -lr * g1
    v2 = mu * v1 - lr * g2
    p1, p2 = two_steps("momentum", momentum=mu)
    np.testing.assert_allclose(p1, p0 + v1)
    np.testing.assert_allclose(p2, p0 + v1 + v2)
    p1, p2 = two_steps("nesterov", momentum=mu)
    np.testing.assert_allclose(p1, p0 + mu * v1 - lr * g1)
    np.testing.assert_allclose(p2, p1 + mu * v2 - lr * g2)


def test_adam_steps_by_hand():
    p0, g1, g2, lr, b1, b2, eps = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0]), \
        np.array([-0.25, 0.5, 1.0]), 0.1, 0.8, 0.95, 1e-8
    p1, p2 = two_steps("adam", beta1=b1, beta2=b2)
    m, v, expected = np.zeros(3), np.zeros(3), p0.copy()
    for t, g in enumerate([g1, g2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = expected - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose([p1, p2][t - 1], expected, rtol=1e-12)
    np.testing.assert_allclose(p1, p0 - lr * np.sign(g1), rtol=1e-6)  # Adam's first step is lr * sign


@pytest.mark.parametrize("name", nn.OPTIMIZERS)
def test_weight_decay_shrinks_weights_but_not_biases(name):
    weights, biases = np.full((2, 3), 2.0), np.full(3, 2.0)
    optimizer = make_optimizer(name, weight_decay=0.5)
    optimizer.step([weights, biases], [np.zeros((2, 3)), np.zeros(3)], 0.1)
    assert np.all(weights < 2.0)
    assert np.all(biases == 2.0)
    if name == "sgd":
        np.testing.assert_allclose(weights, 2.0 * (1 - 0.1 * 0.5))


# ----------------------------------------------------------------------------- schedules

def test_schedules():
    lr_at = nn.scheduled_learning_rate
    constant = TrainSettings(schedule="constant", learning_rate=0.2, epochs=5)
    assert [lr_at(constant, e) for e in range(5)] == [0.2] * 5
    step = TrainSettings(schedule="step", learning_rate=0.2, step_size=2, gamma=0.5, epochs=6)
    assert [lr_at(step, e) for e in range(6)] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05, 0.05])
    cosine = TrainSettings(schedule="cosine", learning_rate=0.2, epochs=10)
    rates = [lr_at(cosine, e) for e in range(10)]
    assert rates[0] == 0.2 and rates[5] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert 0 < rates[-1] < 0.01


def test_history_records_the_scheduled_rates(digits):
    X, y = digits
    settings = quick_settings(schedule="step", step_size=1, gamma=0.5, epochs=3, learning_rate=0.01)
    history = nn.train(nn.build_network(ModelSettings(hidden=(8,))), X[:300], y[:300],
                       X[300:400], y[300:400], settings)
    assert [row["learning_rate"] for row in history] == pytest.approx([0.01, 0.005, 0.0025])


# ----------------------------------------------------------------------------- training

def test_sanity_adam_reaches_85_percent_on_real_digits(digits):
    X, y = digits
    network = nn.build_network(ModelSettings(hidden=(64,)))
    history = nn.train(network, X[:4000], y[:4000], X[4000:], y[4000:], TrainSettings(epochs=5))
    assert len(history) == 5
    assert np.mean(network.predict(X[4000:]) == y[4000:]) > 0.85
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_history_rows(digits):
    X, y = digits
    seen = []
    history = nn.train(nn.build_network(ModelSettings(hidden=(16,))), X[:500], y[:500],
                       X[500:600], y[500:600], quick_settings(batch_size="full"), on_epoch=seen.append)
    assert seen == history and len(history) == 2
    for row in history:
        assert tuple(row) == nn.HISTORY_COLUMNS
        assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["dev_accuracy"] <= 1
        assert row["seconds"] >= 0 and row["train_loss"] > 0
    json.dumps(history)


def test_training_without_a_dev_set(digits):
    X, y = digits
    network = nn.build_network(ModelSettings(hidden=(32,)))
    history = nn.train(network, X[:1000], y[:1000], None, None, quick_settings(epochs=3))
    assert len(history) == 3
    assert all(math.isnan(row["dev_loss"]) and math.isnan(row["dev_accuracy"]) for row in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert np.mean(network.predict(X[4000:]) == y[4000:]) > 0.8
    with pytest.raises(UserError, match="early_stopping needs a dev set"):
        nn.train(network, X[:100], y[:100], None, None, quick_settings(early_stopping=True))


def test_same_seed_gives_bit_identical_weights(digits):
    X, y = digits
    model = ModelSettings(hidden=(32, 16), dropout=0.2)
    settings = quick_settings(optimizer="adam", epochs=2)

    def run(seed):
        network = nn.build_network(model, seed=seed)
        history = nn.train(network, X[:600], y[:600], X[600:700], y[600:700],
                           dataclasses.replace(settings, seed=seed))
        return network.params(), [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    (first, history1), (second, history2), (other, _) = run(3), run(3), run(4)
    assert history1 == history2
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


# ----------------------------------------------------------------------------- augmentation

def shift_by_hand(image, down, across):
    side = math.isqrt(image.size)
    moved = np.zeros((side, side), image.dtype)
    for r in range(side):
        for c in range(side):
            if 0 <= r - down < side and 0 <= c - across < side:
                moved[r, c] = image.reshape(side, side)[r - down, c - across]
    return moved.ravel()


@pytest.mark.parametrize("max_shift", [1, 2, 3])
def test_shift_images_moves_each_image_whole_within_the_limit(digits, max_shift):
    X, _ = digits
    images = X[:200]
    out = np.full_like(images, 7)  # stale contents must not survive
    nn.shift_images(images, out, max_shift, np.random.default_rng(0))
    seen = set()
    for image, moved in zip(images, out):
        matches = [(d, a) for d in range(-max_shift, max_shift + 1)
                   for a in range(-max_shift, max_shift + 1)
                   if np.array_equal(moved, shift_by_hand(image, d, a))]
        assert matches, "an output row is not a whole-pixel shift of its input"
        seen.update(matches)
    # 200 rows over at most 49 offsets: every offset turns up
    assert len(seen) == (2 * max_shift + 1) ** 2


def test_shift_images_offsets_are_uniform_and_seeded():
    side, n = 28, 128
    dot = np.zeros((n, side * side), np.uint8)
    dot[:, 14 * side + 14] = 255
    counts = np.zeros((5, 5), int)
    rng = np.random.default_rng(1)
    out = np.empty_like(dot)
    for _ in range(200):
        nn.shift_images(dot, out, 2, rng)
        where = out.argmax(axis=1)
        np.add.at(counts, (where // side - 12, where % side - 12), 1)
    expected = 200 * n / 25
    assert np.all(np.abs(counts - expected) < 0.1 * expected), counts
    first, second = np.empty_like(dot), np.empty_like(dot)
    nn.shift_images(dot, first, 2, np.random.default_rng(5))
    nn.shift_images(dot, second, 2, np.random.default_rng(5))
    assert np.array_equal(first, second)


def test_shifting_needs_square_images():
    with pytest.raises(UserError, match="max_shift needs square images.*10 pixels"):
        nn.shift_images(np.zeros((4, 10), np.uint8), np.zeros((4, 10), np.uint8), 1,
                        np.random.default_rng(0))
    network = nn.build_network(ModelSettings(hidden=(4,)), n_inputs=10, n_classes=2)
    with pytest.raises(UserError, match="square images"):
        nn.train(network, np.zeros((8, 10)), np.zeros(8, int), np.zeros((2, 10)), np.zeros(2, int),
                 quick_settings(max_shift=1))


def test_training_with_shifts_is_seeded_and_leaves_dev_alone(digits):
    X, y = digits
    model = ModelSettings(hidden=(32,))

    def run(max_shift, seed=0):
        network = nn.build_network(model, seed=0)
        X_train = X[:600].copy()
        history = nn.train(network, X_train, y[:600], X[600:800], y[600:800],
                           quick_settings(max_shift=max_shift, seed=seed))
        assert np.array_equal(X_train, X[:600])  # the caller's images are never moved
        return network.params(), history

    plain, shifted, again, other = run(0), run(2), run(2), run(2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(shifted[0], again[0]))
    assert not all(np.array_equal(a, b) for a, b in zip(plain[0], shifted[0]))
    assert not all(np.array_equal(a, b) for a, b in zip(shifted[0], other[0]))
    # Shifted images are harder to fit, so the training loss is higher than without.
    assert shifted[1][-1]["train_loss"] > plain[1][-1]["train_loss"]


@pytest.mark.parametrize("optimizer", nn.OPTIMIZERS)
def test_huge_learning_rate_raises_training_diverged(digits, optimizer):
    X, y = digits
    network = nn.build_network(ModelSettings(hidden=(16,)))
    with pytest.raises(nn.TrainingDiverged) as caught:
        nn.train(network, X[:500], y[:500], X[500:600], y[500:600],
                 quick_settings(optimizer=optimizer, learning_rate=1e30))
    message = str(caught.value)
    assert "epoch 1, batch" in message and "nan" in message
    assert "lower train.learning_rate (now 1e+30)" in message
    assert isinstance(caught.value, UserError)


@pytest.mark.parametrize("monitor", nn.MONITORS)
def test_early_stopping_restores_the_best_weights(digits, monitor):
    X, y = digits
    # Dev labels shuffled: the network can only overfit to them, so the dev figures soon
    # stop improving and early stopping has something to do.
    y_dev = np.random.default_rng(0).permutation(y[400:600])
    network = nn.build_network(ModelSettings(hidden=(32,)))
    snapshots = []
    settings = quick_settings(epochs=40, early_stopping=True, monitor=monitor, patience=3,
                              optimizer="adam", learning_rate=3e-3)
    history = nn.train(network, X[:400], y[:400], X[400:600], y_dev, settings,
                       on_epoch=lambda row: snapshots.append([p.copy() for p in network.params()]))
    values = [row[monitor] for row in history]
    best = int(np.argmin(values) if monitor == "dev_loss" else np.argmax(values))
    assert len(history) < 40, "early stopping never triggered"
    assert len(history) - 1 - best == settings.patience
    assert all(np.array_equal(p, s) for p, s in zip(network.params(), snapshots[best]))
    assert not all(np.array_equal(p, s) for p, s in zip(network.params(), snapshots[-1]))


def test_training_rejects_mismatched_data(digits):
    X, y = digits
    network = nn.build_network(ModelSettings(hidden=(8,)))
    with pytest.raises(UserError, match="labels"):
        nn.train(network, X[:10], y[:9], X[:5], y[:5], quick_settings())
    with pytest.raises(UserError, match="784"):
        nn.train(network, X[:10, :700], y[:10], X[:5], y[:5], quick_settings())


# ----------------------------------------------------------------------------- prediction

def test_predict_proba(digits):
    X, _ = digits
    network = nn.build_network(ModelSettings(hidden=(16,)))
    proba = network.predict_proba(X[:50])
    assert proba.dtype == np.float32 and proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # BLAS may sum in another order for another batch shape: equal to rounding, not to the bit.
    np.testing.assert_allclose(network.predict_proba(X[:50], batch_size=7), proba, rtol=1e-5)
    assert np.array_equal(network.predict(X[:50]), proba.argmax(axis=1))
    pixels = X[:50].copy()
    network.predict(pixels)
    assert np.array_equal(pixels, X[:50])  # inputs are never written to


def test_float32_and_float64_networks_agree(digits):
    X, _ = digits
    model = ModelSettings(hidden=(16,), activation="sigmoid")
    single = nn.build_network(model, seed=2).predict_proba(X[:20])
    double = nn.build_network(model, seed=2, dtype=F64).predict_proba(X[:20])
    np.testing.assert_allclose(single, double, atol=1e-5)


@pytest.mark.parametrize("init", nn.INITS)
def test_initialisations(init):
    network = nn.build_network(ModelSettings(hidden=(300,), init=init), seed=0)
    W, b = network.layers[0].W, network.layers[0].b
    if init == "he":
        assert W.std() == pytest.approx(math.sqrt(2 / 784), rel=0.02) and not b.any()
    elif init == "xavier":
        limit = math.sqrt(6 / (784 + 300))
        assert -limit <= W.min() and W.max() < limit and not b.any()
        assert W.max() > 0.99 * limit
    else:
        assert -0.5 <= W.min() and W.max() < 0.5 and -0.5 <= b.min() and b.max() < 0.5
        assert b.std() > 0.2


# ----------------------------------------------------------------------------- model file

@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits):
    X, y = digits
    model = ModelSettings(hidden=(24, 12), activation="tanh", dropout=0.1)
    settings = quick_settings(epochs=1)
    network = nn.build_network(model)
    nn.train(network, X[:300], y[:300], X[300:400], y[300:400], settings)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    nn.save_model(path, network, model, settings, extra={"note": "test"})
    return path, network, model, settings


def test_save_load_round_trip(saved, digits):
    path, network, model, settings = saved
    X, _ = digits
    loaded, info = nn.load_model(path)
    assert np.array_equal(loaded.predict_proba(X[:200]), network.predict_proba(X[:200]))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.params(), network.params()))
    assert info["model"] == model.to_dict() and info["train"] == settings.to_dict()
    assert info["format_version"] == nn.MODEL_FORMAT_VERSION
    assert info["preprocessing"] == {"input_scale": 1 / 255}
    assert info["extra"] == {"note": "test"}
    assert ModelSettings.from_dict(info["model"]) == model
    with np.load(path, allow_pickle=False) as archive:  # readable without pickle, by anyone
        assert sorted(archive.files) == ["metadata"] + [f"param_{i}" for i in range(6)]
    assert not list(path.parent.glob(".*.tmp"))


def rewrite(path, target, drop=(), **replace):
    """Copy the archive at ``path`` to ``target``, dropping and replacing arrays."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name not in drop}
    arrays.update(replace)
    with open(target, "wb") as handle:
        np.savez(handle, **arrays)  # allow_pickle defaults to True: object arrays get pickled
    return target


def metadata_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(str(archive["metadata"][()]))


def broken_files(path, folder):
    """(name, file, expected words in the message) for each way a model file can be bad."""
    data = path.read_bytes()
    truncated = folder / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    random_bytes = folder / "random.npz"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = folder / "empty.npz"
    empty.write_bytes(b"")
    meta = metadata_of(path)
    meta["format_version"] = 2
    wrong_version = rewrite(path, folder / "version.npz", metadata=np.array(json.dumps(meta)))
    pickled = rewrite(path, folder / "pickled.npz", param_0=np.array([{"evil": 1}], dtype=object))
    missing = rewrite(path, folder / "missing.npz", drop=("param_3",))
    no_metadata = rewrite(path, folder / "nometa.npz", drop=("metadata",))
    wrong_shape = rewrite(path, folder / "shape.npz", param_0=np.zeros((784, 5), np.float32))
    bare = folder / "bare.npy"
    np.save(bare, np.zeros(3))
    return [
        ("truncated", truncated, "damaged model file"),
        ("random bytes", random_bytes, "not a model .npz archive (not a zip"),
        ("empty", empty, "(empty file)"),
        ("wrong version", wrong_version, "format_version is 2"),
        ("pickled object array", pickled, "pickled object array"),
        ("missing key", missing, "'param_3'"),
        ("no metadata", no_metadata, "no 'metadata'"),
        ("wrong shape", wrong_shape, "do not fit"),
        ("bare npy", bare, "bare .npy array"),
        ("no such file", folder / "absent.npz", "cannot read the model file (no such file)"),
    ]


def test_load_errors_are_one_line_model_file_errors(saved, tmp_path):
    path = saved[0]
    for name, bad, words in broken_files(path, tmp_path):
        with pytest.raises(nn.ModelFileError) as caught:
            nn.load_model(bad)
        message = str(caught.value)
        assert str(bad) in message and words in message, name
        assert "\n" not in message, name


def test_load_never_unpickles(saved, tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    bad = rewrite(saved[0], tmp_path / "evil.npz", param_1=np.array([object()], dtype=object))
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(nn.ModelFileError, match="pickled"):
        nn.load_model(bad)


def test_metadata_may_be_stored_as_utf8_bytes(saved, tmp_path):
    path = saved[0]
    text = json.dumps(metadata_of(path)).encode()
    as_bytes = rewrite(path, tmp_path / "bytes.npz", metadata=np.frombuffer(text, np.uint8))
    network, info = nn.load_model(as_bytes)
    assert info["extra"] == {"note": "test"}


def test_save_is_atomic_and_leaves_no_temp_file(saved, tmp_path):
    path, network, model, settings = saved
    target = tmp_path / "sub" / "model.npz"
    nn.save_model(target, network, model, settings)
    assert [p.name for p in target.parent.iterdir()] == ["model.npz"]
    assert zipfile.is_zipfile(io.BytesIO(target.read_bytes()))


# ----------------------------------------------------------------------------- settings

def test_default_settings_round_trip_through_json():
    for cls in (ModelSettings, TrainSettings):
        data = json.loads(json.dumps(cls().to_dict()))
        assert cls.from_dict(data) == cls()
    assert ModelSettings.from_dict({"hidden": [64, 32]}).hidden == (64, 32)
    assert TrainSettings.from_dict({"batch_size": "full", "learning_rate": 1}).learning_rate == 1.0


@pytest.mark.parametrize("cls,data,words", [
    (ModelSettings, {"hiden": [3]}, "model.hiden: unknown setting; did you mean 'hidden'?"),
    (TrainSettings, {"learning_rat": 0.1}, "did you mean 'learning_rate'?"),
    (TrainSettings, {"zzz": 1}, "train.zzz: unknown setting; expected one of"),
    (ModelSettings, {"hidden": []}, "model.hidden"),
    (ModelSettings, {"hidden": 128}, "model.hidden: must be a non-empty list"),
    (ModelSettings, {"hidden": [64, 0]}, "model.hidden: must be at least 1"),
    (ModelSettings, {"hidden": [64.5]}, "model.hidden: must be an integer"),
    (ModelSettings, {"activation": "rellu"}, "did you mean 'relu'?"),
    (ModelSettings, {"init": "glorot"}, "model.init"),
    (ModelSettings, {"dropout": 1.0}, "model.dropout: must be in [0, 1)"),
    (ModelSettings, {"dropout": -0.1}, "model.dropout"),
    (ModelSettings, {"dropout": "0.5"}, "model.dropout: must be a number"),
    (TrainSettings, {"epochs": 0}, "train.epochs: must be at least 1"),
    (TrainSettings, {"epochs": True}, "train.epochs: must be an integer"),
    (TrainSettings, {"epochs": 2.0}, "train.epochs: must be an integer"),
    (TrainSettings, {"learning_rate": 0}, "train.learning_rate: must be in (0, inf)"),
    (TrainSettings, {"learning_rate": float("nan")}, "train.learning_rate"),
    (TrainSettings, {"learning_rate": float("inf")}, "train.learning_rate"),
    (TrainSettings, {"batch_size": 0}, "train.batch_size"),
    (TrainSettings, {"batch_size": "all"}, 'or "full"'),
    (TrainSettings, {"optimizer": "adamw"}, "did you mean 'adam'?"),
    (TrainSettings, {"schedule": "linear"}, "train.schedule"),
    (TrainSettings, {"momentum": 1.0}, "train.momentum"),
    (TrainSettings, {"beta2": 1}, "train.beta2"),
    (TrainSettings, {"gamma": 0}, "train.gamma"),
    (TrainSettings, {"weight_decay": -1e-4}, "train.weight_decay"),
    (TrainSettings, {"max_shift": -1}, "train.max_shift: must be at least 0"),
    (TrainSettings, {"max_shift": 1.5}, "train.max_shift: must be an integer"),
    (TrainSettings, {"early_stopping": "yes"}, "train.early_stopping: must be true or false"),
    (TrainSettings, {"monitor": "dev_acc"}, "did you mean 'dev_accuracy'?"),
    (TrainSettings, {"patience": 0}, "train.patience"),
    (TrainSettings, {"seed": -1}, "train.seed"),
    (TrainSettings, {"step_size": 0}, "train.step_size"),
    (TrainSettings, [("epochs", 3)], "train: must be a mapping"),
])
def test_settings_validation(cls, data, words):
    with pytest.raises(UserError) as caught:
        cls.from_dict(data)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_settings_built_in_code_are_checked_too():
    with pytest.raises(UserError, match="train.epochs"):
        TrainSettings(epochs=0)
    with pytest.raises(UserError, match="model.activation"):
        ModelSettings(activation="softplus")
