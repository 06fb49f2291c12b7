"""Matched output-activation + loss pairs, computed from the logits.

=============== ========== ============ =========================================
name            output     task         loss (mean)
=============== ========== ============ =========================================
sigmoid_bce     sigmoid    binary       mean over all elements of
                                        log(1 + e^z) - y z   (BCE from logits)
softmax_ce      softmax    multiclass   mean over the batch of
                                        logsumexp(z) - <y, z>  (y one-hot)
identity_mse    identity   regression   mean over all elements of (z - y)^2
=============== ========== ============ =========================================

Three more forms of the regression loss, chosen with
``loss_for_output("identity", mse_form)`` (:data:`MSE_FORMS`), differ from
``identity_mse`` only by a constant factor: ``identity_mse_half_sum``
(deck 002's ½ Σ over outputs, mean over samples), ``identity_mse_sum`` and
``identity_mse_half``.

For these pairs the gradient with respect to the logits is the residual
``y_hat - y`` divided by the number of averaged terms (times 2 for MSE): the
shortcut scikit-learn documents in ``_backprop``. The losses match torch's
``BCEWithLogitsLoss``, ``CrossEntropyLoss`` and ``MSELoss`` (mean reduction).

``extra`` of each spec:

* ``output``, ``task``;
* ``value(z, Y) -> float``: the mean loss of (n, k) logits against (n, k)
  targets (a convenience for tests and the UI).

and, on class-major (k, n) arrays as the MLP stores them:

* ``output_t(z, out) -> out``: the output activation (stable);
* ``value_t(z, Y) -> float``: the mean loss from logits, ``z`` left untouched;
* ``train_t(z, Y, p, delta, rows=None) -> float``: one fused pass for
  training. Writes the outputs into ``p`` (``p`` may be ``z`` for the
  identity output) and ``dL/dz`` into ``delta``; may overwrite ``z``; returns
  the mean loss. ``rows`` is the batch the mean is over when ``z`` holds only
  part of it (a shard, :mod:`engine.nn.shards`): the shards' returns then add
  up to the batch's mean loss;
* ``train_stacked(z, Y, p, delta, rows=None) -> list[float]``: ``train_t`` for K runs
  at once on (K, k, n) arrays against shared (k, n) targets, bit-identical
  to K ``train_t`` calls (used by :class:`engine.nn.stacked.StackedMLP`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from engine.spec import Registry, Spec

LOSSES = Registry("loss")

# output activation -> loss, task -> output
OUTPUT_LOSS = {"sigmoid": "sigmoid_bce", "softmax": "softmax_ce", "identity": "identity_mse"}
TASK_OUTPUT = {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}


# Internally the MLP stores everything class-major: z, Y, p, delta have shape
# (k, n), one column per sample, so the reductions over the k classes run
# along axis 0 over contiguous rows. The ``*_t`` functions take that layout;
# ``value`` (in ``extra``) takes the usual (n, k) arrays.

# softmax + cross-entropy ---------------------------------------------------
def softmax_t(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.subtract(z, np.maximum.reduce(z, axis=0), out=out)
    np.exp(out, out=out)
    out /= np.add.reduce(out, axis=0)
    return out


def softmax_ce_value_t(z: np.ndarray, Y: np.ndarray) -> float:
    zs = z - np.maximum.reduce(z, axis=0)
    lse = np.log(np.add.reduce(np.exp(zs), axis=0))
    return (float(lse.sum()) - float(np.vdot(Y, zs))) / z.shape[1]


def softmax_ce_train_t(z, Y, p, delta, rows=None) -> float:
    n = rows or z.shape[1]
    z -= np.maximum.reduce(z, axis=0)  # log-sum-exp shift, per sample
    yz = np.vdot(Y, z)  # sum_i <y_i, z_i>; one-hot columns sum to 1
    np.exp(z, out=p)
    s = np.add.reduce(p, axis=0)
    p /= s
    np.subtract(p, Y, out=delta)
    delta *= 1.0 / n
    return (float(np.log(s).sum()) - float(yz)) / n


def softmax_ce_train_stacked(z, Y, p, delta, rows=None) -> list[float]:
    """``softmax_ce_train_t`` for K runs at once: z, p, delta (K, k, n), Y (k, n).

    Bit-identical per run: the reductions run over the same axis in the same
    order, and the one BLAS reduction (the dot product) is taken run by run.
    """
    n = rows or z.shape[2]
    z -= np.maximum.reduce(z, axis=1, keepdims=True)
    yz = [float(np.vdot(Y, zk)) for zk in z]
    np.exp(z, out=p)
    s = np.add.reduce(p, axis=1, keepdims=True)
    p /= s
    np.subtract(p, Y, out=delta)
    delta *= 1.0 / n
    log_s = np.log(s[:, 0]).sum(axis=1)
    return [(float(a) - b) / n for a, b in zip(log_s, yz, strict=True)]


# sigmoid + binary cross-entropy --------------------------------------------
def sigmoid_t(z, out):
    return expit(z, out=out)


def sigmoid_bce_value_t(z, Y) -> float:
    # log(1 + e^z) - y z  ==  -[y log s(z) + (1 - y) log(1 - s(z))], stably
    return (float(np.logaddexp(0.0, z).sum()) - float(np.vdot(Y, z))) / z.size


def sigmoid_bce_train_t(z, Y, p, delta, rows=None) -> float:
    m = z.shape[0] * (rows or z.shape[1])
    expit(z, out=p)
    np.subtract(p, Y, out=delta)
    delta *= 1.0 / m
    return (float(np.logaddexp(0.0, z).sum()) - float(np.vdot(Y, z))) / m


def sigmoid_bce_train_stacked(z, Y, p, delta, rows=None) -> list[float]:
    m = z.shape[1] * (rows or z.shape[2])
    expit(z, out=p)
    np.subtract(p, Y, out=delta)
    delta *= 1.0 / m
    soft = np.logaddexp(0.0, z).reshape(z.shape[0], -1).sum(axis=1)
    return [(float(a) - float(np.vdot(Y, zk))) / m for a, zk in zip(soft, z, strict=True)]


# identity + mean squared error ---------------------------------------------
def identity_t(z, out):
    if out is not z:
        np.copyto(out, z)
    return out


def identity_mse_value_t(z, Y) -> float:
    r = z - Y
    return float(np.vdot(r, r)) / z.size


def identity_mse_train_t(z, Y, p, delta, rows=None) -> float:
    m = z.shape[0] * (rows or z.shape[1])
    if p is not z:
        np.copyto(p, z)
    np.subtract(z, Y, out=delta)
    loss = float(np.vdot(delta, delta)) / m
    delta *= 2.0 / m
    return loss


def identity_mse_train_stacked(z, Y, p, delta, rows=None) -> list[float]:
    m = z.shape[1] * (rows or z.shape[2])
    if p is not z:
        np.copyto(p, z)
    np.subtract(z, Y, out=delta)
    losses = [float(np.vdot(dk, dk)) / m for dk in delta]
    delta *= 2.0 / m
    return losses


def _sample_major(value_t):
    def value(z: np.ndarray, Y: np.ndarray) -> float:
        """Mean loss of (n, k) logits ``z`` against (n, k) targets ``Y``."""
        z, Y = np.asarray(z), np.asarray(Y)
        if z.ndim == 1:
            z, Y = z[:, None], Y.reshape(-1, 1)
        return value_t(np.ascontiguousarray(z.T), np.ascontiguousarray(Y.T))
    return value


def _register(name, label, output, task, output_fn, value_t, train_t, train_stacked, help, reference):
    LOSSES.register(Spec(
        name=name, label=label, help=help, reference=reference,
        extra={"output": output, "task": task, "value": _sample_major(value_t),
               "output_t": output_fn, "value_t": value_t, "train_t": train_t,
               "train_stacked": train_stacked},
    ))


_register("sigmoid_bce", "Sigmoid + binary cross-entropy", "sigmoid", "binary",
          sigmoid_t, sigmoid_bce_value_t, sigmoid_bce_train_t, sigmoid_bce_train_stacked,
          "BCE from logits: mean of log(1 + e^z) - y z; dL/dz = (sigmoid(z) - y) / n.",
          "torch.nn.BCEWithLogitsLoss")
_register("softmax_ce", "Softmax + cross-entropy", "softmax", "multiclass",
          softmax_t, softmax_ce_value_t, softmax_ce_train_t, softmax_ce_train_stacked,
          "Mean of logsumexp(z) - z_y; dL/dz = (softmax(z) - y) / n.",
          "torch.nn.CrossEntropyLoss")
_register("identity_mse", "Identity + mean squared error", "identity", "regression",
          identity_t, identity_mse_value_t, identity_mse_train_t, identity_mse_train_stacked,
          "Mean over all elements of (z - y)^2; dL/dz = 2 (z - y) / (n k).",
          "torch.nn.MSELoss")


# -- the other forms of MSE ---------------------------------------------------
#
# deck 002 writes the regression loss L(y, ŷ) = ½ Σᵢ (ŷᵢ − yᵢ)²: a half, and a sum over
# the k outputs (then averaged over the batch, as every deck averages over samples).
# torch's MSELoss (``identity_mse``) averages over outputs too and has no half, so its
# gradient is 2/k times the deck's. The forms below differ from it only by a constant
# factor c/d on the loss and on dL/dz: same minimiser, a rescaled learning rate.

def _mse_form(half: bool, over_outputs: str):
    c = 0.5 if half else 1.0

    def divisor(z, rows=None) -> int:  # z: (k, n) class-major, or (K, k, n) stacked
        return (rows or z.shape[-1]) * (z.shape[-2] if over_outputs == "mean" else 1)

    def value_t(z, Y) -> float:
        r = z - Y
        return c * float(np.vdot(r, r)) / divisor(z)

    def train_t(z, Y, p, delta, rows=None) -> float:
        d = divisor(z, rows)
        if p is not z:
            np.copyto(p, z)
        np.subtract(z, Y, out=delta)
        loss = c * float(np.vdot(delta, delta)) / d
        delta *= 2.0 * c / d
        return loss

    def train_stacked(z, Y, p, delta, rows=None) -> list[float]:
        d = divisor(z, rows)
        if p is not z:
            np.copyto(p, z)
        np.subtract(z, Y, out=delta)
        losses = [c * float(np.vdot(dk, dk)) / d for dk in delta]
        delta *= 2.0 * c / d
        return losses

    return value_t, train_t, train_stacked


_register("identity_mse_half_sum", "Identity + ½ Σ squared error (deck 002)", "identity", "regression",
          identity_t, *_mse_form(True, "sum"),
          "½ Σ over outputs of (z − y)², mean over samples; dL/dz = (z − y) / n.",
          "Deck 002 'Review. Backpropagation': L(y, ŷ) = ½ Σᵢ (ŷᵢ − yᵢ)²")
_register("identity_mse_sum", "Identity + Σ squared error", "identity", "regression",
          identity_t, *_mse_form(False, "sum"),
          "Σ over outputs of (z − y)², mean over samples; dL/dz = 2 (z − y) / n.",
          "torch.nn.MSELoss(reduction='sum') / n")
_register("identity_mse_half", "Identity + ½ mean squared error", "identity", "regression",
          identity_t, *_mse_form(True, "mean"),
          "½ mean over all elements of (z − y)²; dL/dz = (z − y) / (n k).",
          "Nielsen, Neural Networks and Deep Learning, eq. (6) (½ of the MSE)")

# RunConfig-style choice -> loss name, for regression outputs
MSE_FORMS = {
    "mean": "identity_mse",
    "half_mean": "identity_mse_half",
    "sum": "identity_mse_sum",
    "half_sum": "identity_mse_half_sum",
}


def loss_for_output(output: str, mse_form: str = "mean") -> Spec:
    """The loss spec matched to an output activation.

    ``mse_form`` picks the regression loss for the identity output (one of
    :data:`MSE_FORMS`; ``"half_sum"`` is deck 002's ½ Σ) and is ignored for
    the other outputs.
    """
    if output not in OUTPUT_LOSS:
        raise ValueError(f"output: {output!r} is not allowed; allowed: {', '.join(OUTPUT_LOSS)}")
    if mse_form not in MSE_FORMS:
        raise ValueError(f"mse_form: {mse_form!r} is not allowed; allowed: {', '.join(MSE_FORMS)}")
    if output == "identity":
        return LOSSES[MSE_FORMS[mse_form]]
    return LOSSES[OUTPUT_LOSS[output]]
