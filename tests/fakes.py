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


# A rich prompt the written-sets critic keeps (`training.critic.problems` finds nothing), with its q: the tests of
# the critic and of the writing reward break it in one way each.
CONVERTIBLE_QUERY = "a vintage red convertible gliding forward on a volcanic shore"
CONVERTIBLE = ("A vintage red convertible with a chrome grille glides forward on a volcanic shore, black sand spraying "
               "from its tyres as it eases over the ridges. Steam drifts from vents in the rock behind it under a low "
               "grey sky. A tracking shot keeps pace at wheel height on a wide-angle lens, then slows to let it pass.")
