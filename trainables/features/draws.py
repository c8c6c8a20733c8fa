"""Random draws per note: a note's noise and recording effects come from a generator
seeded by (seed, what is drawn, the note's key) alone, so a note's copy is the same in
whatever batch, split, trial or study it is computed (trainables/features/cache.py keys
each copy by the note's audio hash and stores it once)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def row_keys(n: int) -> list[str]:
    """Keys for `n` rows that have no content hash: each row its own draw."""
    return [str(i) for i in range(n)]


def note_generators(seed: int, keys: Sequence[str], purpose: str) -> list[torch.Generator]:
    """One generator per key, seeded by (seed, purpose, key): `purpose` ("noise", an
    effect's name) keeps the draws of different uses of one note independent."""
    generators = []
    for key in keys:
        digest = hashlib.sha256(f"{purpose}\0{seed}\0{key}".encode()).digest()
        generators.append(torch.Generator().manual_seed(int.from_bytes(digest[:8], "little")))
    return generators


def uniform_draws(generators: Sequence[torch.Generator], k: int) -> torch.Tensor:
    """(len(generators), k) uniform draws in [0, 1), a row from each generator."""
    if not generators:
        return torch.zeros(0, k)
    return torch.stack([torch.rand(k, generator=g) for g in generators])


def normal_draws(generators: Sequence[torch.Generator], n: int) -> torch.Tensor:
    """(len(generators), n) standard normal draws, a row from each generator."""
    if not generators:
        return torch.zeros(0, n)
    return torch.stack([torch.randn(n, generator=g) for g in generators])
