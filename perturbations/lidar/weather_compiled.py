"""The per-ray arithmetic of :mod:`perturbations.lidar.weather` compiled for NumPy float32.

:func:`~perturbations.lidar.weather.ray_weather` and
:func:`~perturbations.lidar.weather.apply_wet_ground` state the model once, in
array-module-generic operations (NumPy, CuPy, any Array-API module); on the host
each of their whole-array operations is a pass over every ray, and NumPy's
``where``/``take`` run at 2-5 ns per element here. These kernels fuse the same
operations, in the same float32 arithmetic, with the same tables and the same
counter-based uniforms (:func:`perturbations.xp.counter_uniform`, drawn in place),
into one parallel pass per echo type. Results equal the generic path's up to
the last ulp of ``exp``/``log`` (the tests compare both).

``exp`` and ``log`` are :func:`exp32` and :func:`log32`, below: correctly rounded
float32 results computed in float64 by a range reduction and a polynomial, with
no call and no branch, so the loops that use them vectorise. Numba compiles
``math.exp``/``math.log`` into one C-library call per element, which keeps a
loop scalar; glibc's ``expf`` and ``logf`` also round the other way on about
0.03 % of exponents in [-104, 0] and 0.7 % of the ``1 - u`` the lidar takes the
log of. They live in this file because numba's on-disk cache checks only the
file of the function it compiled. Kernels that call them compile with
``error_model="numpy"``: otherwise a float division carries Python's zero check,
which also keeps the loop scalar.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from perturbations.lidar.weather import FOG, HARD, NO_RETURN, PARTICLE
from perturbations.xp import SPLITMIX_GOLDEN, SPLITMIX_MIX1, SPLITMIX_MIX2

_F = np.float32
_PI = np.float32(math.pi)
_GOLDEN, _MIX1, _MIX2 = np.uint64(SPLITMIX_GOLDEN), np.uint64(SPLITMIX_MIX1), np.uint64(SPLITMIX_MIX2)
_CHUNK = 1024  # rays (points) per parallel chunk of particle_echo and wet_ground

_LOG2E = 1.0 / math.log(2.0)
_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_ROUND = 1.5 * 2.0**52  # adding then subtracting it rounds a double (|x| < 2^51) to the nearest integer
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(11, -1, -1))  # highest degree first
_ATANH_SERIES = tuple(1.0 / k for k in range(21, 0, -2))  # 1/21, 1/19, ..., 1/3, 1
_EXPONENT_BIAS, _MANTISSA = 1023, (1 << 52) - 1


@intrinsic
def _double_from_bits(typingctx, bits):  # noqa: ANN001, ANN201, ARG001 - numba intrinsic signature
    """The float64 whose IEEE bits are the int64 ``bits``."""
    if bits != types.int64:
        return None
    return types.float64(types.int64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.DoubleType())


@intrinsic
def _bits_of_double(typingctx, x):  # noqa: ANN001, ANN201, ARG001 - numba intrinsic signature
    """The IEEE bits of the float64 ``x`` as an int64."""
    if x != types.float64:
        return None
    return types.int64(types.float64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(64))


@nb.njit(cache=True, inline="always", error_model="numpy")
def exp32(x):  # noqa: ANN001, ANN201 - numba helper
    """``exp(x)`` of a float32 (``-inf`` gives 0, overflow ``inf``), correctly rounded to float32.

    ``x = n ln2 + r`` with ``|r| <= ln2 / 2``; ``e^r`` from its degree-11 Taylor series (error
    below 1e-14), times ``2^n`` built from its bits. ``x`` is clamped to [-104, 89] first: beyond,
    the float32 result is 0 or ``inf`` anyway.
    """
    xd = min(max(np.float64(x), -104.0), 89.0)
    nf = (xd * _LOG2E + _ROUND) - _ROUND
    r = xd - nf * _LN2
    p = 0.0
    for c in _EXP_TAYLOR:
        p = p * r + c
    return np.float32(p * _double_from_bits((np.int64(nf) + _EXPONENT_BIAS) << 52))


@nb.njit(cache=True, inline="always", error_model="numpy")
def log32(y):  # noqa: ANN001, ANN201 - numba helper
    """``log(y)`` of a positive finite float32, correctly rounded to float32.

    ``y = 2^e m`` with ``m`` in [sqrt(2)/2, sqrt(2)); ``log m = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``
    (``|s| <= 0.172``), from the odd series of atanh to ``s^21`` (error below 1e-16).
    """
    bits = _bits_of_double(np.float64(y))
    m = _double_from_bits((bits & _MANTISSA) | (_EXPONENT_BIAS << 52))
    e = ((bits >> 52) & 0x7FF) - _EXPONENT_BIAS
    high = m > _SQRT2
    m = 0.5 * m if high else m
    e = e + 1 if high else e
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    q = 0.0
    for c in _ATANH_SERIES:
        q = q * z + c
    return np.float32(np.float64(e) * _LN2 + 2.0 * s * q)


@nb.njit(cache=True, inline="always")
def _uniform(seed, k):  # noqa: ANN001, ANN201
    """Element ``k`` of ``perturbations.xp.counter_uniform(seed)``: drawn in place, same bytes."""
    z = seed + np.uint64(k + 1) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return _F(z >> np.uint64(40)) * _F(2.0**-24)


@nb.njit(cache=True, inline="always")
def _reach_idx(r, max_range, inv_step, n_grid):  # noqa: ANN001, ANN201
    """Grid cell of the search limit: the target's range, or ``max_range`` for sky rays."""
    reach = min(r, max_range)
    return min(np.int64(reach * inv_step), n_grid - 1), reach


@nb.njit(cache=True, inline="always")
def _lookup(table, q):  # noqa: ANN001, ANN201
    """Linear interpolation in a table sampled evenly over q in [0, 1] (weather._lookup)."""
    size = table.shape[0]
    t = min(max(q, _F(0.0)), _F(1.0)) * _F(size - 1)
    j = min(max(np.int64(t), 0), size - 2)  # t >= 0: truncation is the floor
    lo = table[j]
    return lo + (t - _F(j)) * (table[j + 1] - lo)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _keep_better(i, ok, r, e, kind, last_mode, best_s, best_r, best_i, best_k):  # noqa: ANN001, ANN201
    """Report echo (r, e) of ``kind`` on ray i if detected and stronger (or farther, "last" mode);
    written with selects, so that loops calling it vectorise."""
    score = r if last_mode else e / (_PI * r * r)
    better = ok & (score > best_s[i])
    best_s[i] = score if better else best_s[i]
    best_r[i] = r if better else best_r[i]
    best_i[i] = min(e, _F(1.0)) if better else best_i[i]
    best_k[i] = kind if better else best_k[i]


@nb.njit(cache=True, inline="always", error_model="numpy")
def _hard(i, r0, intensity, u, neg2alpha, step, last_mode, best_s, best_r, best_i, best_k):  # noqa: ANN001, ANN201, PLR0913
    """Ray i's hard target at range ``r0``: kept with probability ``T^2`` (``u`` its uniform of
    field 0) and attenuated by it."""
    t2 = exp32(neg2alpha * r0)
    hard_int = intensity * t2
    kept = u < t2
    r_safe = max(r0, step)
    score = _F(np.inf) if last_mode else hard_int / (_PI * r_safe * r_safe)
    best_s[i] = score if kept else _F(0.0)
    best_r[i] = r0 if kept else _F(np.inf)
    best_i[i] = hard_int if kept else _F(0.0)
    best_k[i] = HARD if kept else NO_RETURN


@nb.njit(cache=True, parallel=True)
def clear_air(ranges, intensities, hard, no_return):  # noqa: ANN001, ANN201
    """Clear air (no extinction): every ray with a target (finite range) returns it, ``hard``, with its
    intensity; the others give ``no_return`` and 0. Returns (intensities, kind)."""
    n = ranges.shape[0]
    out_i = np.empty(n, np.float32)
    kind = np.empty(n, np.int8)
    for i in nb.prange(n):
        hit = math.isfinite(ranges[i])
        out_i[i] = intensities[i] if hit else _F(0.0)
        kind[i] = hard if hit else no_return
    return out_i, kind


@nb.njit(cache=True, parallel=True, error_model="numpy")
def hard_and_fog(ranges, intensities, seed, neg2alpha, step, inv_step, max_range, n_grid, last_mode,  # noqa: ANN001, ANN201, PLR0913
                 fog, peak_upto, first, cum, inverse, c_end, min_refl, best_s, best_r, best_i, best_k):
    """Hard targets (uniform field 0 of ``counter_uniform(seed, (fields, N))``) and, with ``fog``, the
    fog echo (fields 1-2) of every ray, into the ``best_*`` arrays (score, range, intensity, kind).
    Scalars are float32 (``step``, its reciprocal, ``max_range``, ``-2 alpha``, ``c_end``); tables as
    in weather._fog_tables.

    The loop body has no call (:func:`exp32` and :func:`log32` instead of the C library's) and no
    branch (selects), so the compiler vectorises it, table lookups included: a parallel loop's
    iterations are declared independent, which lets it gather from the tables."""
    n_cum = cum.shape[0]
    n = ranges.shape[0]
    if not fog:
        for i in nb.prange(n):
            _hard(i, ranges[i], intensities[i], _uniform(seed, i), neg2alpha, step, last_mode, best_s, best_r, best_i, best_k)
        return
    for i in nb.prange(n):
        r0 = ranges[i]
        _hard(i, r0, intensities[i], _uniform(seed, i), neg2alpha, step, last_mode, best_s, best_r, best_i, best_k)
        cell, reach = _reach_idx(r0, max_range, inv_step, n_grid)
        total = cum[min(max(cell - first + 1, 0), n_cum - 1)]
        r = min(max(_lookup(inverse, _uniform(seed, n + i) * (total / c_end)), step), reach)
        speckle = -log32(_F(1.0) - _uniform(seed, 2 * n + i))  # Exp(1) pulse-to-pulse fluctuation
        e = _PI * r * r * peak_upto[cell] * speckle
        _keep_better(i, (total > 0) & (e >= min_refl), r, e, FOG, last_mode, best_s, best_r, best_i, best_k)


def arrival_bound(c_end: float) -> np.float32:
    """A float32 bound ``b`` such that every uniform ``u >= b`` gives ``-log(1 - u) >= c_end`` with
    float32 ``log`` (the exact threshold ``1 - exp(-c_end)`` widened by 1 % and one float32 step of
    ``u``, far more than ``log``'s last-ulp error), so :func:`particle_echo` may skip such rays."""
    return np.float32(min(1.0, -math.expm1(-c_end) * 1.01 + 2.0**-23))


@nb.njit(cache=True, parallel=True, error_model="numpy")
def particle_echo(ranges, seed, row, step, inv_step, max_range, n_grid, last_mode, counts, inverse, d_min,  # noqa: ANN001, ANN201, PLR0913
                  width, gain, c_end, lam, u_arrival, best_s, best_r, best_i, best_k):
    """The first detectable rain drop or snowflake of every ray (uniform fields ``row``, ``row + 1``),
    kept in ``best_*`` when stronger. Tables as in weather._particle_tables.

    ``u_arrival`` (:func:`arrival_bound`) bounds the first uniform of the rays that can hold a
    particle; in rain few can (about one ray in 60,000 at 25 mm/h), so each chunk of rays is first
    screened by a pass that only draws that uniform (the compiler vectorises it), and only chunks
    with a candidate run the per-ray logarithms and lookups. Skipped rays have no particle either way.
    """
    n_tab = counts.shape[0]
    n = ranges.shape[0]
    base = row * n
    for c in nb.prange((n + _CHUNK - 1) // _CHUNK):
        lo, hi = c * _CHUNK, min(n, (c + 1) * _CHUNK)
        candidates = 0
        for i in range(lo, hi):
            candidates += np.int32(_uniform(seed, base + i) < u_arrival)
        if candidates == 0:
            continue
        for i in range(lo, hi):
            u = _uniform(seed, base + i)
            if u >= u_arrival:
                continue
            k, _ = _reach_idx(ranges[i], max_range, inv_step, n_grid)
            total = counts[min(max(k, 0), n_tab - 1)]
            m = -log32(_F(1.0) - u)  # first arrival of the Poisson process
            if not m < total:
                continue
            r = _lookup(inverse, m / c_end)
            j = min(max(np.int64(r / step + _F(0.5)), 0), n_tab - 1)
            diameter = d_min[j] - log32(_F(1.0) - _uniform(seed, base + n + i)) / lam  # tail above D_min
            ratio = diameter / width[j]
            e = gain[j] * min(ratio * ratio, _F(1.0))
            _keep_better(i, e > 0, r, e, PARTICLE, last_mode, best_s, best_r, best_i, best_k)


@nb.njit(cache=True, parallel=True)
def wet_ground(points, ring, labels, origin, seed, table, band):  # noqa: ANN001, ANN201
    """The returns of a scan that survive a wet road (weather.apply_wet_ground): per point the return
    factor ``q`` (the table at the incidence cosine for ground returns, 1 elsewhere) and survival
    ``u < q`` (``u`` element i of ``counter_uniform(seed)``); returns the kept points (intensity scaled by ``q``), rings and labels, in order.
    ``labels`` (N,) or empty when the scan has none; scalars float32."""
    n = points.shape[0]
    q = np.empty(n, np.float32)
    top = table.shape[0] - 1
    ox, oy, oz = origin[0], origin[1], origin[2]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    kept = np.zeros(nchunks + 1, np.int64)  # survivors of each chunk, at index chunk + 1
    for c in nb.prange(nchunks):
        count = 0
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            z = points[i, 2]
            qi = _F(1.0)
            if z < band and (labels.shape[0] == 0 or labels[i] == -1):
                dx, dy, dz = points[i, 0] - ox, points[i, 1] - oy, z - oz
                r = max(math.sqrt(dx * dx + dy * dy + dz * dz), _F(1e-3))
                cos_i = min(max((oz - z) / r, _F(0.0)), _F(1.0))
                qi = table[np.int64(cos_i * _F(top) + _F(0.5))]
            q[i] = qi if _uniform(seed, i) < qi else _F(-1.0)  # -1: lost
            count += q[i] >= 0
        kept[c + 1] = count
    start = np.cumsum(kept)
    m = start[nchunks]
    out = np.empty((m, 4), np.float32)
    out_ring = np.empty(m, ring.dtype)
    out_labels = np.empty(m if labels.shape[0] else 0, labels.dtype)
    for c in nb.prange(nchunks):  # each chunk's survivors, in order, at the chunk's offset
        j = start[c]
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            if q[i] >= 0:
                out[j, 0], out[j, 1], out[j, 2] = points[i, 0], points[i, 1], points[i, 2]
                out[j, 3] = points[i, 3] * q[i]
                out_ring[j] = ring[i]
                if labels.shape[0]:
                    out_labels[j] = labels[i]
                j += 1
    return out, out_ring, out_labels
