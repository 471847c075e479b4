"""A small feed-forward neural network in plain NumPy, for 28x28 digit images.

Bottom to top: layers (``Dense``, the activations, ``Dropout``) own their parameters,
their gradients and the scratch arrays their passes write into; ``softmax_cross_entropy``
fuses softmax and cross-entropy; optimizers update lists of arrays in place and know
nothing of layers; ``shift_images`` moves training images about by a pixel or two;
``train`` runs mini-batches, schedules and early stopping; and
``save_model``/``load_model`` use a pickle-free ``.npz`` that is all prediction needs.

Training runs in float32 for speed; everything also runs in float64 (``dtype``), which
the gradient checks use. The arrays that ``forward`` and ``backward`` return belong to
the layers and are overwritten by the next pass with the same batch shape (copy them to
keep them): reusing them keeps the training loop free of allocations.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import numbers
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from common import UserError, save_npz

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("he", "xavier", "uniform")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "step", "cosine")
MONITORS = ("dev_loss", "dev_accuracy")
MODEL_FORMAT_VERSION = 1
HISTORY_COLUMNS = ("epoch", "learning_rate", "train_loss", "train_accuracy",
                   "dev_loss", "dev_accuracy", "seconds")


class TrainingDiverged(UserError):
    """The loss became NaN or infinite, which almost always means the learning rate is too high."""


class ModelFileError(UserError):
    """A model file that cannot be used: missing, damaged, foreign, or from another format version."""


# ----------------------------------------------------------------------------- settings

def _did_you_mean(word, options) -> str:
    match = difflib.get_close_matches(str(word), list(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else f"; expected one of {', '.join(options)}"


def _integer(low):
    def check(value):
        # bool is an int subclass, but `epochs: true` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"must be an integer, got {value!r}")
        if value < low:
            raise ValueError(f"must be at least {low}, got {value}")
        return int(value)
    return check


def _real(low, high, *, low_open=False, high_open=False):
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"must be a number, got {value!r}")
        value = float(value)
        if not (low < value or (value == low and not low_open)) or \
                not (value < high or (value == high and not high_open)):  # also rejects NaN
            raise ValueError(f"must be in {interval}, got {value:g}")
        return value
    return check


def _choice(options):
    def check(value):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"unknown value {value!r}{_did_you_mean(value, options)}")
        return value
    return check


def _boolean(value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"must be true or false, got {value!r}")
    return bool(value)


def _hidden_widths(value):
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"must be a non-empty list of layer widths such as [256], got {value!r}")
    return tuple(_integer(1)(width) for width in value)


def _batch_size(value):
    try:
        return value if value == "full" else _integer(1)(value)
    except ValueError:
        raise ValueError(f'must be a positive integer or "full", got {value!r}') from None


class _Settings:
    """Checks shared by the settings dataclasses; each names its config section and checks."""

    SECTION: ClassVar[str]
    CHECKS: ClassVar[dict]

    def __post_init__(self):
        # Here rather than only in from_dict, so that settings built in code obey the same
        # rules; the checks also normalise (list -> tuple, 1 -> 1.0), hence the setattr.
        for field in dataclasses.fields(self):
            try:
                value = self.CHECKS[field.name](getattr(self, field.name))
            except ValueError as error:
                raise UserError(f"{self.SECTION}.{field.name}: {error}") from None
            object.__setattr__(self, field.name, value)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, Mapping):
            raise UserError(f"{cls.SECTION}: must be a mapping of settings, got {type(d).__name__}")
        known = [field.name for field in dataclasses.fields(cls)]
        for key in d:
            if key not in known:
                raise UserError(f"{cls.SECTION}.{key}: unknown setting{_did_you_mean(key, known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class ModelSettings(_Settings):
    hidden: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    init: str = "he"
    dropout: float = 0.1  # probability of zeroing each hidden unit while training

    SECTION: ClassVar[str] = "model"
    CHECKS: ClassVar[dict] = {"hidden": _hidden_widths, "activation": _choice(ACTIVATIONS),
                              "init": _choice(INITS), "dropout": _real(0, 1, high_open=True)}


@dataclass(frozen=True)
class TrainSettings(_Settings):
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int | str = 128  # or "full": one batch per epoch, i.e. gradient descent
    epochs: int = 20
    schedule: str = "cosine"
    step_size: int = 10
    gamma: float = 0.5
    weight_decay: float = 1e-4
    max_shift: int = 2  # pixels a training image may be moved each way, anew every epoch
    early_stopping: bool = True
    monitor: str = "dev_loss"
    patience: int = 5
    seed: int = 0

    SECTION: ClassVar[str] = "train"
    CHECKS: ClassVar[dict] = {
        "optimizer": _choice(OPTIMIZERS), "schedule": _choice(SCHEDULES),
        "monitor": _choice(MONITORS), "early_stopping": _boolean, "batch_size": _batch_size,
        "learning_rate": _real(0, math.inf, low_open=True, high_open=True),
        "momentum": _real(0, 1, high_open=True), "beta1": _real(0, 1, high_open=True),
        "beta2": _real(0, 1, high_open=True), "gamma": _real(0, 1, low_open=True),
        "weight_decay": _real(0, math.inf, high_open=True),
        "epochs": _integer(1), "step_size": _integer(1), "patience": _integer(1),
        "max_shift": _integer(0),
        "seed": _integer(0),
    }


# ----------------------------------------------------------------------------- layers

class Layer:
    """One step of the network. ``forward(x, training)`` maps a batch (a row per example);
    ``backward(dout)`` takes d(loss)/d(output), fills ``grads`` (parallel to ``params``)
    and returns d(loss)/d(input), unless told that nobody needs it."""

    kind = "layer"
    params: list = []
    grads: list = []

    def __init__(self):
        self._buffers = {}

    def spec(self) -> dict:
        return {"type": self.kind}

    def _buffer(self, name, shape, dtype, fill=None):
        # Training meets the same few shapes over and over (full batches, the last short
        # one, the dev set), so each gets one array, allocated once and then reused.
        key = (name, shape, dtype)
        buffer = self._buffers.get(key)
        if buffer is None:
            if len(self._buffers) > 64:  # callers predicting on ever-new sizes must not leak
                self._buffers.clear()
            buffer = self._buffers[key] = np.empty(shape, dtype)
            if fill is not None:
                buffer.fill(fill)
        return buffer


class Dense(Layer):
    """``x @ W + b`` with W of shape (n_in, n_out), so that a batch is one matrix product."""

    kind = "dense"

    def __init__(self, weights, biases):
        super().__init__()
        self.W = np.ascontiguousarray(weights)
        self.b = np.ascontiguousarray(biases, dtype=self.W.dtype)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        # Lists of the arrays themselves: everyone updates them in place, never rebinds them.
        self.params, self.grads = [self.W, self.b], [self.dW, self.db]

    def spec(self):
        return {"type": self.kind, "n_in": self.W.shape[0], "n_out": self.W.shape[1]}

    def forward(self, x, training=False):
        self._x = x  # not copied: the layer below leaves it alone until the next forward
        out = np.matmul(x, self.W, out=self._buffer("out", (len(x), self.W.shape[1]), self.W.dtype))
        out += self.b
        return out

    def backward(self, dout, need_input_grad=True):
        np.matmul(self._x.T, dout, out=self.dW)  # x.T is a view: BLAS reads it transposed
        # The column sums as a matrix-vector product: BLAS does them in a third of the
        # time numpy's reduction over the short batch axis takes.
        np.matmul(self._buffer("ones", (len(dout),), dout.dtype, fill=1), dout, out=self.db)
        if need_input_grad:
            return np.matmul(dout, self.W.T, out=self._buffer("dx", self._x.shape, self.W.dtype))
        return None


class Activation(Layer):
    """An elementwise f(x). Forward also stores f'(x), so that backward is one product
    (for ReLU, multiplying by the 0/1 mask is also twice as fast as np.maximum)."""

    def forward(self, x, training=False):
        out = self._buffer("out", x.shape, x.dtype)
        self._slope = self._buffer("slope", x.shape, x.dtype)
        self.apply(x, out, self._slope)
        return out

    def backward(self, dout, need_input_grad=True):
        return np.multiply(dout, self._slope, out=self._buffer("dx", dout.shape, dout.dtype))

    def apply(self, x, out, slope):
        """Write f(x) into out and f'(x) into slope."""
        raise NotImplementedError


class ReLU(Activation):
    kind = "relu"

    def apply(self, x, out, slope):
        np.greater(x, 0, out=slope)
        np.multiply(x, slope, out=out)


class LeakyReLU(Activation):
    kind = "leaky_relu"
    leak = 0.01

    def apply(self, x, out, slope):
        np.greater(x, 0, out=slope)
        slope *= 1.0 - self.leak
        slope += self.leak
        np.multiply(x, slope, out=out)


class Tanh(Activation):
    kind = "tanh"

    def apply(self, x, out, slope):
        np.tanh(x, out=out)
        np.multiply(out, out, out=slope)
        np.subtract(1, slope, out=slope)


class Sigmoid(Activation):
    kind = "sigmoid"

    def apply(self, x, out, slope):
        # (1 + tanh(x / 2)) / 2 is the logistic function without 1 / (1 + exp(-x)),
        # whose exp overflows (with a warning) for large negative x.
        np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        np.subtract(1, out, out=slope)
        slope *= out


class Dropout(Activation):
    """Inverted dropout: kept units are scaled by 1 / (1 - rate) while training, so that
    prediction uses the layer as the identity. Its slope is that 0-or-scale mask."""

    kind = "dropout"

    def __init__(self, rate, rng=None):
        super().__init__()
        self.rate = float(rate)
        self.rng = rng  # the owning Network hands over its generator: one seed fixes every mask
        # A unit is dropped when a 16-bit random draw falls below this: the share dropped is
        # within 2^-17 of the rate, and raw bits come three times faster than random floats.
        self.threshold = np.uint16(min(round(self.rate * 65536), 65535))

    def spec(self):
        return {"type": self.kind, "rate": self.rate}

    def forward(self, x, training=False):
        return super().forward(x, training) if training and self.rate > 0 else x

    def apply(self, x, out, mask):
        words = self.rng.bit_generator.random_raw(-(-mask.size // 4))  # four draws per word
        draws = words.view(np.uint16)[:mask.size].reshape(mask.shape)
        np.greater_equal(draws, self.threshold, out=mask)
        mask *= 1.0 / (1.0 - self.rate)
        np.multiply(x, mask, out=out)


ACTIVATION_LAYERS = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid}


# ----------------------------------------------------------------------------- loss

def softmax(logits, out=None):
    """Row-wise softmax; subtracting each row's maximum keeps exp() within [0, 1]."""
    out = np.subtract(logits, np.maximum.reduce(logits, axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= np.add.reduce(out, axis=1, keepdims=True)
    return out


def softmax_cross_entropy(logits, labels, grad_out=None) -> float:
    """Mean cross-entropy of softmax(logits) against integer labels.

    Computed as log-sum-exp minus the true logit after subtracting each row's maximum,
    so no logit is too large. With ``grad_out`` (which may be ``logits`` itself, to work
    in place) d(loss)/d(logits) = (softmax - onehot) / n is written there: fused, it is
    both cheaper and stabler than differentiating softmax and log separately.
    """
    # Few calls, and the ufuncs' own reduce rather than np.sum or ndarray.max: on a
    # 128 x 10 batch numpy's per-call overhead costs more than the arithmetic.
    n, n_classes = logits.shape
    if grad_out is not None and not grad_out.flags.c_contiguous:
        raise ValueError("grad_out must be C-contiguous")  # the flat view below must alias it
    true_class = np.arange(0, n * n_classes, n_classes)  # flat positions of each row's label
    true_class += labels
    z = np.subtract(logits, np.maximum.reduce(logits, axis=1, keepdims=True), out=grad_out)
    flat = z.reshape(-1)
    z_true = flat.take(true_class)
    np.exp(z, out=z)
    sums = np.add.reduce(z, axis=1)
    loss = (np.add.reduce(np.log(sums), dtype=np.float64)
            - np.add.reduce(z_true, dtype=np.float64)) / n
    if grad_out is not None:
        sums *= n
        z /= sums[:, None]
        flat[true_class] -= 1.0 / n
    return float(loss)


# ----------------------------------------------------------------------------- network

def initial_weights(n_in, n_out, scheme, rng):
    """(W, b) in float64, so that float32 and float64 networks from one seed start alike."""
    if scheme == "he":  # variance 2 / fan_in keeps ReLU activations the same size layer after layer
        return rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in), np.zeros(n_out)
    if scheme == "xavier":
        limit = math.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, (n_in, n_out)), np.zeros(n_out)
    if scheme == "uniform":  # the seed notebooks' choice, biases included, to reproduce them
        return rng.uniform(-0.5, 0.5, (n_in, n_out)), rng.uniform(-0.5, 0.5, n_out)
    raise ValueError(f"unknown init {scheme!r}")


class Network:
    """A stack of layers that starts with a Dense layer and ends with the logits."""

    def __init__(self, layers, input_scale=1 / 255, rng=None):
        self.layers = list(layers)
        if not self.layers or not isinstance(self.layers[0], Dense):
            raise ValueError("a Network starts with a Dense layer")
        self.input_scale = float(input_scale)  # the preprocessing: raw pixels times this
        self.dtype = self.layers[0].W.dtype
        self.rng = rng if rng is not None else np.random.default_rng()
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.rng = self.rng

    @property
    def n_inputs(self) -> int:
        return self.layers[0].W.shape[0]

    @property
    def n_classes(self) -> int:
        return [layer for layer in self.layers if isinstance(layer, Dense)][-1].W.shape[1]

    def forward(self, x, training=False):
        """Logits of inputs already multiplied by ``input_scale`` (see the module note on reuse)."""
        x = np.asarray(x, dtype=self.dtype)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dlogits) -> None:
        grad = dlogits
        for i in range(len(self.layers) - 1, -1, -1):
            # Nobody needs d(loss)/d(pixels), and for the first layer it would cost as
            # much as its forward product: a third of the arithmetic of a batch.
            grad = self.layers[i].backward(grad, need_input_grad=i > 0)

    def params(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params]

    def grads(self) -> list[np.ndarray]:
        return [g for layer in self.layers for g in layer.grads]

    def scale_inputs(self, raw_pixels) -> np.ndarray:
        raw = np.asarray(raw_pixels)
        if raw.ndim != 2 or raw.shape[1] != self.n_inputs:
            raise ValueError(f"expected pixels of shape (n, {self.n_inputs}), got {raw.shape}")
        return np.multiply(raw, self.input_scale, dtype=self.dtype)

    def predict_proba(self, raw_pixels, batch_size=4096) -> np.ndarray:
        raw = np.asarray(raw_pixels)
        proba = np.empty((len(raw), self.n_classes), np.float32)
        for start in range(0, len(raw), batch_size):  # chunks bound the memory of big inputs
            logits = self.forward(self.scale_inputs(raw[start:start + batch_size]))
            softmax(logits, out=proba[start:start + batch_size])
        return proba

    def predict(self, raw_pixels) -> np.ndarray:
        return self.predict_proba(raw_pixels).argmax(axis=1)


def build_network(model: ModelSettings, n_inputs=784, n_classes=10, seed=0,
                  dtype=np.float32) -> Network:
    rng = np.random.default_rng(seed)
    widths = (n_inputs, *model.hidden, n_classes)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        weights, biases = initial_weights(n_in, n_out, model.init, rng)
        layers.append(Dense(weights.astype(dtype), biases.astype(dtype)))
        if i < len(widths) - 2:
            layers.append(ACTIVATION_LAYERS[model.activation]())
            if model.dropout > 0:
                layers.append(Dropout(model.dropout))
    return Network(layers, rng=rng)


# ----------------------------------------------------------------------------- optimizers

def _like(array, value):
    """``value`` as a scalar of the array's dtype: numpy's loops run markedly faster with
    a float32 scalar than with a Python float, which it must check and convert each call."""
    return array.dtype.type(value)


class Optimizer:
    """Updates parameter arrays in place: ``step(params, grads, learning_rate)``.

    L2 weight decay adds ``weight_decay * W`` to the gradient of each weight matrix (the
    2-D parameters), never to biases, whose size says nothing about overfitting. ``step``
    may overwrite ``grads``: the next backward pass refills them anyway, and using them
    as scratch space keeps the update free of temporaries.
    """

    def __init__(self, weight_decay=0.0):
        self.weight_decay = float(weight_decay)
        self._scratch = None

    def scratch(self, params):
        if self._scratch is None:
            self._scratch = [np.empty_like(p) for p in params]
        return self._scratch

    def add_weight_decay(self, params, grads):
        if self.weight_decay:
            for p, g, s in zip(params, grads, self.scratch(params)):
                if p.ndim > 1:
                    g += np.multiply(p, _like(p, self.weight_decay), out=s)

    def step(self, params, grads, learning_rate) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * g"""

    def step(self, params, grads, learning_rate):
        self.add_weight_decay(params, grads)
        for p, g in zip(params, grads):
            g *= _like(g, learning_rate)
            p -= g


class Momentum(Optimizer):
    """v = momentum * v - lr * g;  p += v"""

    def __init__(self, momentum=0.9, weight_decay=0.0):
        super().__init__(weight_decay)
        self.momentum = float(momentum)
        self.velocity = None

    def _update_velocity(self, params, grads, learning_rate):
        self.add_weight_decay(params, grads)
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for g, v in zip(grads, self.velocity):
            g *= _like(g, learning_rate)
            v *= _like(v, self.momentum)
            v -= g

    def step(self, params, grads, learning_rate):
        self._update_velocity(params, grads, learning_rate)
        for p, v in zip(params, self.velocity):
            p += v


class Nesterov(Momentum):
    """v = momentum * v - lr * g;  p += momentum * v - lr * g

    Nesterov's look-ahead rewritten (Sutskever et al., 2013) so that the gradient is the
    one at the stored parameters, which is where backward computed it."""

    def step(self, params, grads, learning_rate):
        self._update_velocity(params, grads, learning_rate)  # leaves lr * g in grads
        for p, g, v, s in zip(params, grads, self.velocity, self.scratch(params)):
            p += np.multiply(v, _like(v, self.momentum), out=s)
            p -= g


class Adam(Optimizer):
    """Kingma & Ba (2015). The bias corrections are folded into two scalars per step:
    lr * m_hat / (sqrt(v_hat) + eps) equals step_size * m / (sqrt(v) + eps * root), with
    root = sqrt(1 - beta2^t), which spares corrected copies of both moment estimates."""

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(weight_decay)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.t, self.m, self.v = 0, None, None

    def step(self, params, grads, learning_rate):
        self.add_weight_decay(params, grads)
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        root = math.sqrt(1.0 - self.beta2 ** self.t)
        step_size = learning_rate * root / (1.0 - self.beta1 ** self.t)
        for p, g, m, v, s in zip(params, grads, self.m, self.v, self.scratch(params)):
            v *= _like(v, self.beta2)
            v += np.multiply(np.multiply(g, g, out=s), _like(s, 1.0 - self.beta2), out=s)
            m *= _like(m, self.beta1)
            m += np.multiply(g, _like(g, 1.0 - self.beta1), out=g)
            np.sqrt(v, out=s)
            s += _like(s, self.epsilon * root)
            np.divide(m, s, out=s)
            s *= _like(s, step_size)
            p -= s


def make_optimizer(settings: TrainSettings) -> Optimizer:
    decay = settings.weight_decay
    if settings.optimizer == "sgd":
        return SGD(weight_decay=decay)
    if settings.optimizer in ("momentum", "nesterov"):
        kind = Momentum if settings.optimizer == "momentum" else Nesterov
        return kind(settings.momentum, weight_decay=decay)
    return Adam(settings.beta1, settings.beta2, weight_decay=decay)


def scheduled_learning_rate(settings: TrainSettings, epoch: int) -> float:
    """The learning rate of (0-based) ``epoch``."""
    base = settings.learning_rate
    if settings.schedule == "step":
        return base * settings.gamma ** (epoch // settings.step_size)
    if settings.schedule == "cosine":  # half a cosine wave: full rate first, nearly 0 last
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / settings.epochs))
    return base


# ----------------------------------------------------------------------------- augmentation

def image_side(n_inputs: int) -> int:
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise UserError(f"train.max_shift needs square images, but a row has {n_inputs} pixels")
    return side


def shift_images(images, out, max_shift, rng):
    """Move each square image (a row of ``images``) by a random whole number of pixels,
    -max_shift..max_shift across and down, into ``out``; pixels moved in are 0.

    Digits in MNIST-style data sit centred with a blank margin, so a network that has
    seen them a pixel or two off learns strokes rather than positions. Rows are dealt to
    the (2 * max_shift + 1)^2 offsets round-robin, in an order drawn afresh each call:
    a batch is already in random order, so every row gets a uniformly random offset, and
    each offset is one strided slice copy instead of a Python step per image.
    """
    n, side = len(images), image_side(images.shape[1])
    src, dst = images.reshape(n, side, side), out.reshape(n, side, side)
    moves = _shift_slices(side, max_shift)
    dst.fill(0)
    for group, k in enumerate(rng.permutation(len(moves))):
        to, source = moves[k]
        dst[(slice(group, None, len(moves)), *to)] = src[(slice(group, None, len(moves)), *source)]
    return out


@functools.lru_cache(maxsize=8)
def _shift_slices(side, max_shift):
    """For each offset, the (rows, columns) the moved content lands in and comes from."""
    def span(shift):
        return slice(max(shift, 0), side + min(shift, 0))

    return [((span(down), span(across)), (span(-down), span(-across)))
            for down in range(-max_shift, max_shift + 1)
            for across in range(-max_shift, max_shift + 1)]


# ----------------------------------------------------------------------------- training

def _training_arrays(network, X, y, name):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != network.n_inputs or len(X) == 0:
        raise UserError(f"{name} data: expected pixels of shape (n >= 1, {network.n_inputs}), "
                        f"got {X.shape}")
    if y.shape != (len(X),) or y.min() < 0 or y.max() >= network.n_classes:
        raise UserError(f"{name} data: expected {len(X)} labels in 0..{network.n_classes - 1}, "
                        f"got shape {y.shape}")
    # Kept raw (usually uint8) and scaled batch by batch: gathering a quarter of the bytes
    # pays for the scaling, and a float32 copy of 42,000 images would cost 126 MiB.
    return X, y.astype(np.intp)


def _evaluate(network, x, y, batch_size=8192):
    """(mean loss, accuracy) of scaled inputs, in as few forward passes as memory allows."""
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        labels = y[start:start + batch_size]
        logits = network.forward(x[start:start + batch_size])
        correct += int(np.count_nonzero(logits.argmax(axis=1) == labels))
        loss_sum += softmax_cross_entropy(logits, labels) * len(labels)
    return loss_sum / len(x), correct / len(x)


def _diverged(where, loss, settings):
    return TrainingDiverged(f"training diverged at {where}: the loss is {loss}; "
                            f"lower train.learning_rate (now {settings.learning_rate:g})")


def train(network, X_train, y_train, X_dev, y_dev, settings: TrainSettings,
          on_epoch=None) -> list[dict]:
    """Mini-batch training; returns a history row (keys HISTORY_COLUMNS) per epoch run.

    train_loss and train_accuracy average the epoch's batches as they were computed
    (weights changing, dropout on) instead of costing a second pass over the data.
    With early stopping the weights of the best epoch by ``settings.monitor`` are put
    back at the end. Raises TrainingDiverged as soon as a batch loss is not finite.

    ``X_dev`` and ``y_dev`` may both be None, to train on every labelled row (say, a
    final fit once the settings are chosen): the dev columns of the history are then
    NaN, no time goes to a dev pass, and early stopping, which needs them, is refused.
    """
    X, y = _training_arrays(network, X_train, y_train, "train")
    if X_dev is None and y_dev is None:
        if settings.early_stopping:
            raise UserError("train.early_stopping needs a dev set; set it to false to train "
                            "without one")
        dev_x = None
    else:
        X_dev, y_dev = _training_arrays(network, X_dev, y_dev, "dev")
        dev_x = network.scale_inputs(X_dev)  # scaled once: the dev pass runs every epoch
    n = len(X)
    batch = n if settings.batch_size == "full" else min(settings.batch_size, n)
    params, grads = network.params(), network.grads()
    optimizer = make_optimizer(settings)
    shuffler = np.random.default_rng(settings.seed)
    batch_raw, batch_y = np.empty((batch, X.shape[1]), X.dtype), np.empty(batch, np.intp)
    batch_x = np.empty((batch, X.shape[1]), network.dtype)
    if settings.max_shift:
        image_side(X.shape[1])  # fail before the first epoch, not inside it
        batch_shifted = np.empty_like(batch_raw)
    sign = 1.0 if settings.monitor == "dev_loss" else -1.0  # so that lower is always better
    best_score, best_epoch, best_params = math.inf, 0, [np.empty_like(p) for p in params]
    history = []
    # Divergence is caught from the loss; overflow warnings on the way there are noise.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            learning_rate = scheduled_learning_rate(settings, epoch - 1)
            order = shuffler.permutation(n)
            loss_sum, correct = 0.0, 0
            for number, start in enumerate(range(0, n, batch), 1):
                rows = order[start:start + batch]
                raw, xb, yb = batch_raw[:len(rows)], batch_x[:len(rows)], batch_y[:len(rows)]
                # mode="clip" because the default "raise" copies through a hidden temporary.
                X.take(rows, axis=0, out=raw, mode="clip")
                y.take(rows, out=yb, mode="clip")
                if settings.max_shift:
                    raw = shift_images(raw, batch_shifted[:len(rows)], settings.max_shift, shuffler)
                np.multiply(raw, network.input_scale, out=xb, dtype=network.dtype)
                logits = network.forward(xb, training=True)
                correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
                loss = softmax_cross_entropy(logits, yb, grad_out=logits)
                if not math.isfinite(loss):
                    raise _diverged(f"epoch {epoch}, batch {number}", loss, settings)
                loss_sum += loss * len(rows)
                network.backward(logits)
                optimizer.step(params, grads, learning_rate)
            dev_loss, dev_accuracy = math.nan, math.nan
            if dev_x is not None:
                dev_loss, dev_accuracy = _evaluate(network, dev_x, y_dev)
                if not math.isfinite(dev_loss):
                    raise _diverged(f"epoch {epoch} (dev set)", dev_loss, settings)
            row = {"epoch": epoch, "learning_rate": learning_rate, "train_loss": loss_sum / n,
                   "train_accuracy": correct / n, "dev_loss": dev_loss,
                   "dev_accuracy": dev_accuracy, "seconds": time.perf_counter() - started}
            history.append(row)
            if on_epoch is not None:
                on_epoch(row)
            if settings.early_stopping:
                if sign * row[settings.monitor] < best_score:
                    best_score, best_epoch = sign * row[settings.monitor], epoch
                    for saved, p in zip(best_params, params):
                        np.copyto(saved, p)
                elif epoch - best_epoch >= settings.patience:
                    break
    if settings.early_stopping:
        for p, saved in zip(params, best_params):
            np.copyto(p, saved)
    return history


# ----------------------------------------------------------------------------- model file

def save_model(path, network: Network, model: ModelSettings, train: TrainSettings,
               extra: dict | None = None) -> None:
    metadata = {"format_version": MODEL_FORMAT_VERSION,
                "architecture": [layer.spec() for layer in network.layers],
                "preprocessing": {"input_scale": network.input_scale},
                "model": model.to_dict(), "train": train.to_dict(), "extra": extra or {}}
    arrays = {f"param_{i}": p for i, p in enumerate(network.params())}
    # A unicode array, not a Python str, which would need pickling.
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    save_npz(path, **arrays)


def _one_line(error) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def load_model(path) -> tuple[Network, dict]:
    """The network saved at ``path``, and its metadata as plain JSON data: "model", "train",
    "format_version", "preprocessing", "extra", "architecture". Nothing is unpickled."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as error:
        what = "no such file" if isinstance(error, FileNotFoundError) else _one_line(error)
        raise ModelFileError(f"{path}: cannot read the model file ({what})") from None
    # Our own handle, as np.load leaves its file open when a damaged zip makes it fail.
    with handle:
        magic = handle.read(4)
        handle.seek(0)
        # Only a zip goes on to np.load, which would take anything else for a pickle.
        if magic != b"PK\x03\x04":
            what = ("empty file" if not magic else "a bare .npy array" if magic == b"\x93NUM"
                    else "not a zip archive")
            raise ModelFileError(f"{path}: not a model .npz archive ({what})")
        try:
            with np.load(handle, allow_pickle=False) as archive:
                return _read_model(archive, path)
        except ModelFileError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
            if "pickle" in str(error):  # allow_pickle=False refused an object array
                raise ModelFileError(f"{path}: holds a pickled object array, which is never "
                                     "loaded; save the model again with save_model") from None
            raise ModelFileError(f"{path}: damaged model file ({_one_line(error)})") from None


def _read_model(archive, path):
    def fail(what):
        return ModelFileError(f"{path}: {what}")

    if "metadata" not in archive.files:
        raise fail("no 'metadata' array; not a model file written by save_model")
    raw = archive["metadata"]
    if raw.dtype == np.uint8 and raw.ndim == 1:
        raw = raw.tobytes().decode("utf-8")
    elif raw.dtype.kind == "U" and raw.ndim == 0:
        raw = str(raw[()])
    else:
        raise fail("'metadata' is not a JSON string")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as error:
        raise fail(f"'metadata' is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != MODEL_FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise fail(f"format_version is {version!r}, but this code reads version "
                   f"{MODEL_FORMAT_VERSION}; retrain the model")
    try:
        model = ModelSettings.from_dict(meta["model"])
        train = TrainSettings.from_dict(meta["train"])
        scale = float(meta["preprocessing"]["input_scale"])
        specs = list(meta["architecture"])
    except (KeyError, TypeError, ValueError, UserError) as error:
        raise fail(f"incomplete metadata ({_one_line(error)})") from None
    if not 0 < scale < math.inf:
        raise fail(f"preprocessing.input_scale must be a positive number, got {scale}")

    layers, used, width = [], 0, None
    for spec in specs:
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind == "dense":
            weights, biases = (_parameter(archive, f"param_{used + k}", fail) for k in (0, 1))
            used += 2
            shape = (spec.get("n_in"), spec.get("n_out"))
            if weights.shape != shape or biases.shape != shape[1:] or width not in (None, shape[0]):
                raise fail(f"dense layer {len(layers)}: parameters of shape {weights.shape} and "
                           f"{biases.shape} do not fit the architecture")
            width = shape[1]
            layers.append(Dense(weights, biases))
        elif kind in ACTIVATION_LAYERS:
            layers.append(ACTIVATION_LAYERS[kind]())
        elif kind == "dropout":
            layers.append(Dropout(float(spec.get("rate", 0.0))))
        else:
            raise fail(f"architecture: unknown layer {spec!r}")
    stored = sum(name.startswith("param_") for name in archive.files)
    if not layers or not isinstance(layers[0], Dense) or stored != used:
        raise fail(f"the architecture uses {used} parameter arrays, but the file holds {stored}")
    info = {"format_version": MODEL_FORMAT_VERSION, "architecture": specs,
            "preprocessing": {"input_scale": scale}, "model": model.to_dict(),
            "train": train.to_dict(), "extra": meta.get("extra") or {}}
    return Network(layers, input_scale=scale, rng=np.random.default_rng(train.seed)), info


def _parameter(archive, name, fail):
    if name not in archive.files:
        raise fail(f"missing array {name!r}")
    array = archive[name]  # an object array raises here, as allow_pickle is off
    if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
        raise fail(f"{name} must hold finite floating-point numbers, got dtype {array.dtype}")
    return array
