"""One seeding scheme for a sweep: every stream derives from the root seed and a key.

A stream's seed is ``SeedSequence([root_seed, *words])`` where ``words`` are the
64-bit halves of a SHA-256 of each key part. Keys are semantic (a cell's
canonical axis values, an episode index, a sensor name, a perturbation name),
never positions in a queue, so results do not depend on execution order or on
the number of workers. Seed 0 is an ordinary seed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def canonical(value: Any) -> str:
    """Stable text of a JSON-able value: sorted keys, ints and floats kept apart, ``inf`` spelt out."""

    def norm(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): norm(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return {"float": repr(f)} if not math.isfinite(f) else f
        return v

    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"), default=str)


def _words(part: str | int) -> list[int]:
    if isinstance(part, int) and not isinstance(part, bool) and 0 <= part < 2**63:
        return [int(part)]
    digest = hashlib.sha256(str(part).encode()).digest()
    return [int.from_bytes(digest[i : i + 8], "little") for i in (0, 8)]


def seed_sequence(root_seed: int, *key: str | int) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of the stream named by ``key`` under ``root_seed``."""
    if root_seed is None or int(root_seed) < 0:
        raise ValueError(f"root_seed: must be a non-negative integer, got {root_seed!r}")
    entropy = [int(root_seed)]
    for part in key:
        # a tag separates "ints" from "hashed strings" so that 3 and "3" differ
        entropy += [1, *_words(part)] if isinstance(part, int) and not isinstance(part, bool) else [2, *_words(part)]
    return np.random.SeedSequence(entropy)


def derive_seed(root_seed: int, *key: str | int) -> int:
    """A 63-bit integer seed for the stream named by ``key`` (fits an int64 column)."""
    return int(seed_sequence(root_seed, *key).generate_state(1, np.uint64)[0] >> np.uint64(1))


def rng_for(root_seed: int, *key: str | int) -> np.random.Generator:
    """A fresh generator for the stream named by ``key``."""
    return np.random.default_rng(seed_sequence(root_seed, *key))
