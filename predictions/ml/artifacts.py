"""Save and load fitted models: scikit-learn parts with joblib, PyTorch parts as tensors only.

Layout of a saved model directory:

* ``model.joblib``: the model object (a ``suite.TrainedModel`` or any estimator) pickled by joblib, with every
  ``TorchMLPRegressor`` reduced to its constructor parameters and a key;
* ``torch_state.pt``: ``{key: {tensor name: tensor}}`` for those MLPs (network weights and the imputation /
  scaling arrays, see ``mlp.TorchMLPRegressor.export_state``), written with ``torch.save`` and read back with
  ``torch.load(..., weights_only=True)``, which cannot execute code;
* ``manifest.json``: format version and the SHA-256 of both files.

Joblib files are pickles: they are written and read only by the platform (never accept one from a user).
``load_model`` checks the files against the manifest, or against the SHA-256 the caller stored when saving (the
database), before unpickling anything. Loading gives bit-identical predictions (tests check it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
import torch

from .mlp import TORCH_EXPORT, TORCH_IMPORT

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
TORCH_FILE = "torch_state.pt"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model, directory: str | Path) -> dict:
    """Write ``model`` into ``directory`` (created if needed); returns the manifest (with SHA-256 per file)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    states: dict = {}
    token = TORCH_EXPORT.set(states)
    try:
        joblib.dump(model, directory / MODEL_FILE, compress=3)
    finally:
        TORCH_EXPORT.reset(token)
    files = {MODEL_FILE: sha256_file(directory / MODEL_FILE)}
    if states:
        torch.save(states, directory / TORCH_FILE)
        files[TORCH_FILE] = sha256_file(directory / TORCH_FILE)
    manifest = {"format_version": FORMAT_VERSION, "files": files, "sha256": combined_sha256(files)}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def combined_sha256(files: dict[str, str]) -> str:
    """One digest for the whole artifact: SHA-256 over the sorted ``name:sha256`` lines."""
    text = "\n".join(f"{name}:{digest}" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def load_model(directory: str | Path, expected_sha256: str | None = None):
    """Load a model saved by ``save_model``, after checking file digests (and ``expected_sha256`` if given)."""
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Unsupported model format {manifest.get('format_version')!r}")
    actual = {name: sha256_file(directory / name) for name in manifest["files"]}
    if actual != manifest["files"]:
        raise ValueError("Model files do not match their manifest (corrupted or modified)")
    if expected_sha256 is not None and combined_sha256(actual) != expected_sha256:
        raise ValueError("Model digest differs from the expected SHA-256")
    states = {}
    if TORCH_FILE in manifest["files"]:
        states = torch.load(directory / TORCH_FILE, map_location="cpu", weights_only=True)
    token = TORCH_IMPORT.set(states)
    try:
        return joblib.load(directory / MODEL_FILE)
    finally:
        TORCH_IMPORT.reset(token)
