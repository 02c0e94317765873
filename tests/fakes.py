"""Stand-ins shared by tests: instant, deterministic, offline."""

from __future__ import annotations

import hashlib

import torch


class HashingEmbedder:
    """A bag-of-words sentence embedder (a hash bucket per word): deterministic, instant, and sensitive to wording."""

    dim = 64

    def get_sentence_embedding_dimension(self):
        return self.dim

    def encode(self, texts, normalize_embeddings=True, **kwargs):
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return torch.nn.functional.normalize(out, dim=1) if normalize_embeddings else out
