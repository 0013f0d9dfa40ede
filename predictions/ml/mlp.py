"""A PyTorch multilayer-perceptron regressor with the scikit-learn estimator contract.

Why written here rather than ``sklearn.neural_network.MLPRegressor``: it takes sample weights, imputes NaN itself
(median + missing-value indicators, learned in ``fit``), can use a GPU, and its whole fitted state is a flat
dictionary of tensors (``export_state``) that is saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` — no pickled code, unlike a joblib file.

Training: inputs and target standardised; AdamW; mini-batches; early stopping on an internal validation split
(``validation_fraction``) with the best epoch's weights restored. ``n_models`` networks are trained with different
seeds and validation splits and averaged: with ~1,500 noisy rows a single early-stopped network varies a lot
from seed to seed, and the average is both better and steadier. Seeds: everything random (initial weights,
validation split, batch order, dropout) derives from ``random_state`` (the global torch RNG is forked, so callers'
random streams are untouched): two fits with the same seed give the same model on CPU. Training runs in float32
(on CUDA when ``device="auto"`` finds one); prediction in float64 on CPU, so a district gets the same value alone
or inside any batch.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from torch import nn

# Set by ``artifacts.save_model`` / ``load_model``: while set, MLPs pickle as (parameters, key) and their tensors
# travel in a separate ``torch.save`` file (see ``__reduce_ex__``). Context variables keep this per thread.
TORCH_EXPORT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("torch_export", default=None)
TORCH_IMPORT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("torch_import", default=None)


def resolve_device(device: str = "auto") -> torch.device:
    """CUDA when available and asked for ("auto" or "cuda"), else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def _torch_threads(n: int | None):
    if not n:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_network(n_inputs: int, hidden_layer_sizes, dropout: float) -> nn.Sequential:
    """Linear → SiLU → Dropout blocks, then a linear output unit."""
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, int(size)), nn.SiLU(), nn.Dropout(dropout)]
        width = int(size)
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class TorchMLPRegressor(RegressorMixin, BaseEstimator):
    """MLP regressor (PyTorch): NaN-tolerant, sample-weighted, early-stopped, bagged, seeded, CPU or CUDA.

    Rebuildable from ``get_params()`` + ``export_state()`` alone (``import_state``), which is how
    ``artifacts`` saves it.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def __init__(
        self,
        hidden_layer_sizes=(64, 32),
        dropout: float = 0.1,
        weight_decay: float = 1e-3,
        learning_rate: float = 2e-3,
        batch_size: int = 64,
        max_epochs: int = 300,
        patience: int = 30,
        validation_fraction: float = 0.15,
        loss: str = "mse",
        huber_delta: float = 1.0,
        random_state: int | None = 0,
        device: str = "auto",
        n_models: int = 5,
        n_threads: int | None = 1,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.loss = loss
        self.huber_delta = huber_delta
        self.random_state = random_state
        self.device = device
        self.n_models = n_models
        self.n_threads = n_threads

    # -- preprocessing -------------------------------------------------------------------------------------------
    def _prepare(self, X: np.ndarray) -> np.ndarray:
        missing = np.isnan(X)
        filled = np.where(missing, self.medians_, X)
        parts = [filled]
        if len(self.indicator_columns_):
            parts.append(missing[:, self.indicator_columns_].astype(np.float64))
        Z = np.concatenate(parts, axis=1)
        return (Z - self.mean_) / self.scale_

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True)
        w = _check_sample_weight(sample_weight, X, ensure_non_negative=True, dtype=np.float64)
        w = w / w.mean()
        with np.errstate(all="ignore"):
            medians = np.nanmedian(X, axis=0)
        self.medians_ = np.nan_to_num(medians, nan=0.0)
        self.indicator_columns_ = np.flatnonzero(np.isnan(X).any(axis=0))
        missing = np.isnan(X)
        Z = np.concatenate([np.where(missing, self.medians_, X), missing[:, self.indicator_columns_]], axis=1)
        self.mean_ = Z.mean(axis=0)
        scale = Z.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.y_mean_ = float(np.average(y, weights=w))
        self.y_scale_ = float(np.sqrt(np.average((y - self.y_mean_) ** 2, weights=w))) or 1.0
        Xs = self._prepare(X).astype(np.float32)
        ys = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

        device = resolve_device(self.device)
        seed = 0 if self.random_state is None else int(self.random_state)
        networks, epochs, best_epochs, best_losses = [], [], [], []
        with _torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
            for member in range(int(self.n_models)):
                net, n_epochs, best_epoch, best_loss = self._train_one(Xs, ys, w, seed + 1000 * member, device)
                networks.append(net.to("cpu").eval())
                epochs.append(n_epochs)
                best_epochs.append(best_epoch)
                best_losses.append(best_loss)
        self.n_epochs_ = int(max(epochs))
        self.best_epoch_ = int(np.median(best_epochs))
        self.best_validation_loss_ = float(np.mean(best_losses))
        # Predictions run in float64: the same district gets the same value alone or in any batch.
        self.module_ = nn.ModuleList(networks).double().eval()
        return self

    def _train_one(self, Xs: np.ndarray, ys: np.ndarray, w: np.ndarray, seed: int, device: torch.device):
        """Train one network (own seed and validation split); returns it with its early-stopping record."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(ys))
        n_val = int(round(self.validation_fraction * len(ys))) if len(ys) >= 20 else 0
        val_idx, train_idx = order[:n_val], order[n_val:]
        torch.manual_seed(seed)
        net = build_network(Xs.shape[1], self.hidden_layer_sizes, self.dropout).to(device)
        gen = torch.Generator().manual_seed(seed + 1)
        Xt = torch.from_numpy(Xs).to(device)
        yt = torch.from_numpy(ys).to(device)
        wt = torch.from_numpy(w.astype(np.float32)).to(device)
        tr = torch.from_numpy(train_idx).to(device)
        va = torch.from_numpy(val_idx).to(device)
        optimiser = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        best_state, best_loss, best_epoch, stale, epoch = None, np.inf, 0, 0, 0
        for epoch in range(1, int(self.max_epochs) + 1):
            net.train()
            perm = tr[torch.randperm(len(tr), generator=gen).to(device)]
            for start in range(0, len(perm), int(self.batch_size)):
                batch = perm[start : start + int(self.batch_size)]
                optimiser.zero_grad()
                loss = self._loss(net(Xt[batch]).squeeze(1), yt[batch], wt[batch])
                loss.backward()
                optimiser.step()
            if n_val == 0:
                continue
            net.eval()
            with torch.no_grad():
                val_loss = float(self._loss(net(Xt[va]).squeeze(1), yt[va], wt[va]))
            if val_loss < best_loss - 1e-6:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        if n_val == 0:
            best_epoch, best_loss = epoch, float("nan")
        return net, epoch, best_epoch, float(best_loss)

    def _loss(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.loss == "huber":
            per_row = nn.functional.huber_loss(pred, target, reduction="none", delta=self.huber_delta)
        elif self.loss == "mse":
            per_row = (pred - target) ** 2
        else:
            raise ValueError(f"Unknown loss {self.loss!r}")
        return (per_row * weight).sum() / weight.sum()

    def predict(self, X):
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        Xs = torch.from_numpy(self._prepare(X))
        out = np.empty(len(Xs), dtype=np.float64)
        with _torch_threads(self.n_threads), torch.no_grad():
            for start in range(0, len(Xs), 65536):
                chunk = Xs[start : start + 65536]
                outputs = torch.stack([net(chunk).squeeze(1) for net in self.module_])
                out[start : start + 65536] = outputs.mean(0).numpy()
        return out * self.y_scale_ + self.y_mean_

    # -- persistence -----------------------------------------------------------------------------------------------
    def export_state(self) -> dict[str, torch.Tensor]:
        """All fitted state as tensors (network weights + preprocessing arrays): safe for ``weights_only`` loads."""
        check_is_fitted(self, "module_")
        state = {f"net.{k}": v.detach().cpu().clone() for k, v in self.module_.state_dict().items()}
        state["pre.medians"] = torch.from_numpy(self.medians_.copy())
        state["pre.indicator_columns"] = torch.from_numpy(self.indicator_columns_.astype(np.int64))
        state["pre.mean"] = torch.from_numpy(self.mean_.copy())
        state["pre.scale"] = torch.from_numpy(self.scale_.copy())
        state["pre.y_stats"] = torch.tensor([self.y_mean_, self.y_scale_], dtype=torch.float64)
        state["meta.fit"] = torch.tensor(
            [self.n_features_in_, self.n_epochs_, self.best_epoch_, self.best_validation_loss_], dtype=torch.float64
        )
        return state

    def import_state(self, state: dict[str, torch.Tensor]) -> TorchMLPRegressor:
        """Rebuild the fitted model from ``export_state()`` output and this estimator's parameters."""
        self.medians_ = state["pre.medians"].numpy().copy()
        self.indicator_columns_ = state["pre.indicator_columns"].numpy().astype(np.intp)
        self.mean_ = state["pre.mean"].numpy().copy()
        self.scale_ = state["pre.scale"].numpy().copy()
        self.y_mean_, self.y_scale_ = (float(v) for v in state["pre.y_stats"])
        n_features, n_epochs, best_epoch, best_loss = (float(v) for v in state["meta.fit"])
        self.n_features_in_, self.n_epochs_, self.best_epoch_ = int(n_features), int(n_epochs), int(best_epoch)
        self.best_validation_loss_ = best_loss
        net = self._empty_networks()
        net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
        self.module_ = net.eval()
        return self

    def _empty_networks(self) -> nn.ModuleList:
        n_inputs = len(self.mean_)
        return nn.ModuleList(
            build_network(n_inputs, self.hidden_layer_sizes, self.dropout) for _ in range(int(self.n_models))
        ).double()

    def __reduce_ex__(self, protocol):
        states = TORCH_EXPORT.get()
        if states is None or not hasattr(self, "module_"):
            return super().__reduce_ex__(protocol)
        key = f"mlp{len(states)}"
        states[key] = self.export_state()
        extra = {k: v for k, v in self.__dict__.items() if k == "feature_names_in_"}
        return (_rebuild_from_export, (self.get_params(deep=False), key, extra))

    def __getstate__(self):
        state = self.__dict__.copy()
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        self.__dict__.update(state)
        if module_state is not None:
            net = self._empty_networks()
            net.load_state_dict(module_state)
            self.module_ = net.eval()


def _rebuild_from_export(params: dict, key: str, extra: dict) -> TorchMLPRegressor:
    """Unpickling counterpart of ``__reduce_ex__`` under ``TORCH_EXPORT``: parameters + tensors from TORCH_IMPORT."""
    states = TORCH_IMPORT.get()
    if states is None or key not in states:
        raise RuntimeError("An MLP was unpickled without its torch state: load it with artifacts.load_model")
    model = TorchMLPRegressor(**params).import_state(states[key])
    model.__dict__.update(extra)
    return model
