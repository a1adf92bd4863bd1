"""EOT optimisation of a patch texture against the reference detector.

Views are captured once from the embedded simulator (:func:`build_views`); each
step renders a random mini-batch of them differentiably with the current
texture, scores the target with :class:`~simtest.patch.objective.SuppressionObjective`
and takes an Adam step on the texture's logits (so it stays in [0, 1]), with
an optional total-variation term that keeps the print smooth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from perturbations.patch import Patch, PatchError
from simtest.patch.eot import EotSample
from simtest.patch.objective import SuppressionObjective, total_variation
from simtest.patch.render import PatchView, capture_views, texture_tensor, with_texture
from simtest.patch.scenes import single_actor_scenario
from simtest.sim.embedded import EmbeddedSimulator


def build_views(sim: EmbeddedSimulator, cls: str, samples: Sequence[EotSample], patch: Patch) -> list[PatchView]:
    """Capture one differentiable view per sample (samples where the patch is out of sight are dropped)."""
    views = []
    for s in samples:
        scen = single_actor_scenario(cls, s.model, s.view, s.colour)
        views += capture_views(sim, scen, s.conditions, s.seed, [patch], [s.frame])
    return views


@dataclass(frozen=True)
class OptimiseResult:
    """The optimised patch and the per-step history (mean score of the batch, TV, seconds)."""

    patch: Patch
    history: list[dict[str, float]]


def optimise_texture(
    objective: SuppressionObjective,
    views: Sequence[PatchView],
    init: Patch,
    rng: np.random.Generator,
    *,
    steps: int = 100,
    batch: int = 4,
    lr: float = 0.1,
    tv_weight: float = 0.05,
    margin: float = 0.0,
    log: Callable[[dict[str, float]], None] | None = None,
) -> OptimiseResult:
    """Minimise the mean target score over mini-batches of ``views`` (drawn from ``rng``) starting from ``init``.

    With ``margin`` > 0 the loss is the mean of ``max(score - margin, 0)``: a view whose score is
    already below the margin (set under the detector's operating point) stops pulling the texture,
    so the optimisation spends itself on the views the detector still detects, which is what the
    miss rate counts."""
    if not views:
        raise PatchError("optimise_texture: no views with the patch in sight; widen the EOT ranges or move the patch")
    if steps < 1 or batch < 1 or not (math.isfinite(lr) and lr > 0) or tv_weight < 0 or not 0.0 <= margin < 1.0:
        raise PatchError(f"optimise_texture: need steps >= 1, batch >= 1, lr > 0, tv_weight >= 0, 0 <= margin < 1; "
                         f"got {steps}, {batch}, {lr}, {tv_weight}, {margin}")
    encoded = [objective.encode(v) for v in views]
    t0 = texture_tensor(init).clamp(1e-3, 1 - 1e-3)
    logits = torch.log(t0 / (1 - t0)).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    history = []
    start = time.perf_counter()
    for step in range(int(steps)):
        pick = rng.choice(len(views), size=min(batch, len(views)), replace=False)
        tex = torch.sigmoid(logits)
        images = [views[i].render([tex]) for i in pick]
        scores = objective.scores([encoded[i] for i in pick], images)
        tv = total_variation(tex)
        loss = (scores - margin).clamp(min=0.0).mean() + tv_weight * tv
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"step": float(step), "score": float(scores.detach().mean()), "tv": float(tv.detach()),
               "seconds": time.perf_counter() - start}
        history.append(rec)
        if log is not None:
            log(rec)
    final = with_texture(init, torch.sigmoid(logits))
    return OptimiseResult(final, history)


def mean_score(objective: SuppressionObjective, views: Sequence[PatchView], patch: Patch, batch: int = 8) -> float:
    """Mean target score over ``views`` with ``patch``'s texture (no gradients)."""
    tex = texture_tensor(patch)
    out = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            chunk = views[i:i + batch]
            out.append(objective.scores([objective.encode(v) for v in chunk], [v.render([tex]) for v in chunk]))
    return float(torch.cat(out).mean())
