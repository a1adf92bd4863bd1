"""Compiled per-pixel and per-ray kernels of the camera, the lidar and the ground truth (numba),
and the thread count of every simulator kernel (the shading pass is in :mod:`.shading_kernels`).

Each kernel fuses the arithmetic of a NumPy formulation into one pass (the
tests check they give the same bytes); curves shared with other modules (sRGB)
come in as lookup tables built by those modules, so each formula lives in one
place.

The per-pixel and per-ray loops are ``prange`` loops whose iterations are
independent (each writes only its own outputs, no reductions), so every result
is byte-identical whatever the thread count. :func:`set_threads` sets that
count: all cores in one simulator, 1 when a sweep already runs one simulator
per core (parallel regions that wait on oversubscribed cores run several times
slower, measured 8 ms against 35 ms). Loops whose order decides the float
result (compositing overlapping particles) stay serial.
"""

from __future__ import annotations

import math
import os

import numba as nb
import numpy as np

if nb.config.THREADING_LAYER == "default":
    # Open3D loads its own TBB, older than numba's TBB layer accepts (numba would warn and fall back):
    # go straight to OpenMP
    nb.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


SPIN_COUNT = 10_000
"""How many times an idle OpenMP worker spins before it sleeps (``GOMP_SPINCOUNT``): about 0.3 ms here."""


def start_workers() -> None:
    """Start numba's worker threads (once), letting idle workers spin only briefly before they sleep.

    A frame runs a dozen parallel loops, most a few hundred microseconds of Python apart, and casts
    rays between some of them. With OpenMP's default wait (300,000 spins) idle workers spin for
    milliseconds after every loop, on a core that Embree's casting threads need next (measured with
    two threads: 154 ms of CPU per default frame against 69 ms with passive waiting and 67 ms on one
    thread). Passive waiting (no spin) makes every loop wake its workers, and the caller, from sleep.
    :data:`SPIN_COUNT` keeps them awake across the short gaps and hands the core back before a
    cast needs it for long: frame time over bare cast time 1.57 -> 1.50 at night and 1.55 -> 1.52 in
    heavy rain (medians of 4 interleaved benchmark runs), CPU time per frame unchanged.
    ``GOMP_SPINCOUNT`` is set only while the runtime starts (it reads it once, when loaded), so other
    OpenMP runtimes in the process (torch ships its own) keep theirs; a ``GOMP_SPINCOUNT`` or
    ``OMP_WAIT_POLICY`` set by the user is left alone.
    """
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        nb.get_num_threads()  # launches the threading layer
        return
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    try:
        nb.get_num_threads()
    finally:
        del os.environ["GOMP_SPINCOUNT"]


def set_threads(n: int) -> int:
    """Set how many threads the simulator's kernels use in this thread of the process (numba's
    ``set_num_threads``), clamped to 1..``NUMBA_NUM_THREADS``; returns the count set. Results do
    not depend on it. Sweeps that run one simulator per core call ``set_threads(1)`` in each worker."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"set_threads: n must be an integer thread count, got {n!r}")
    start_workers()
    count = min(max(int(n), 1), nb.config.NUMBA_NUM_THREADS)
    nb.set_num_threads(count)
    return count


def get_threads() -> int:
    """The kernels' current thread count (see :func:`set_threads`)."""
    start_workers()
    return int(nb.get_num_threads())


@nb.njit(cache=True, parallel=True)
def mean_log_luminance(image, stride, luma, floor):  # noqa: ANN001, ANN201
    """Mean over the pixels ``(stride * i, stride * j)`` of ``image`` (H, W, 3) of ``log(max(L, floor))``,
    ``L = luma . rgb``: each row of the grid summed in parallel (float64), then the rows in order."""
    h, w = image.shape[0], image.shape[1]
    rows, cols = (h + stride - 1) // stride, (w + stride - 1) // stride
    part = np.empty(rows)
    for r in nb.prange(rows):
        acc = 0.0
        y = r * stride
        for c in range(cols):
            x = c * stride
            lum = luma[0] * image[y, x, 0] + luma[1] * image[y, x, 1] + luma[2] * image[y, x, 2]
            acc += math.log(max(lum, floor))
        part[r] = acc
    total = 0.0
    for r in range(rows):
        total += part[r]
    return total / (rows * cols)


_ENCODE_BLOCK = 4096
"""Values per block of :func:`encode_pixels`: its table indices (16 kB) stay in the L1 cache."""


@nb.njit(cache=True, parallel=True, error_model="numpy", fastmath={"nnan", "ninf", "nsz"})
def encode_pixels(radiance, gain, inv_white2, lut, out):  # noqa: ANN001, ANN201
    """uint8 ``out`` (N, 3) from float32 ``radiance`` (N, 3): gain, extended Reinhard, sRGB table.

    Per block, the table indices are computed in one float32 pass that the compiler vectorises
    (the no-NaN/no-inf flags allow vector min/max; radiance is finite), then looked up in a
    second pass: fused in one loop, the lookup kept the arithmetic scalar (2-3 times slower)."""
    src, dst = radiance.reshape(-1), out.reshape(-1)
    n = src.shape[0]
    top = np.float32(lut.shape[0] - 1)
    g, iw, one, zero = np.float32(gain), np.float32(inv_white2), np.float32(1.0), np.float32(0.0)
    for blk in nb.prange((n + _ENCODE_BLOCK - 1) // _ENCODE_BLOCK):
        lo = blk * _ENCODE_BLOCK
        m = min(_ENCODE_BLOCK, n - lo)
        x_in, y_out = src[lo:lo + m], dst[lo:lo + m]
        k = np.empty(_ENCODE_BLOCK, np.uint32)
        for j in range(m):
            x = x_in[j] * g
            y = x * (one + x * iw) / (one + x)
            k[j] = np.uint32(min(max(y * top, zero), top))
        for j in range(m):
            y_out[j] = lut[k[j]]


@nb.njit(cache=True, parallel=True)
def decode_hits(geom, prim, normal, dirs, num_static, material_of, actor_of):  # noqa: ANN001, ANN201
    """Material and actor of each hit (-1 on a miss) from Embree's geometry and primitive ids
    (geometry 0 = static world, 1 = actors, whose triangles follow the static ones in the tables);
    when ``dirs`` holds the N rays' directions (else it is empty), turns ``normal`` (N, 3) in place
    towards the rays' origins."""
    face_rays = dirs.shape[0] == geom.shape[0]
    n = geom.shape[0]
    material = np.empty(n, np.int32)
    actor = np.empty(n, np.int32)
    invalid = np.uint32(0xFFFFFFFF)
    for i in nb.prange(n):
        g = geom[i]
        if g == invalid:
            material[i] = -1
            actor[i] = -1
            continue
        tri = np.int64(prim[i]) + (num_static if g == 1 else 0)
        material[i] = material_of[tri]
        actor[i] = actor_of[tri]
        if face_rays and normal[i, 0] * dirs[i, 0] + normal[i, 1] * dirs[i, 1] + normal[i, 2] * dirs[i, 2] > 0:
            normal[i, 0] = -normal[i, 0]
            normal[i, 1] = -normal[i, 1]
            normal[i, 2] = -normal[i, 2]
    return material, actor


@nb.njit(cache=True, parallel=True)
def lidar_returns(t, normal, rays, material, reflectivity, snow_ok, snow_cover, snow_reflectivity,
                  max_range, min_reflectivity):  # noqa: ANN001, ANN201
    """Clear-air returns of lidar rays: (range, apparent reflectivity) per ray, range ``inf`` when
    nothing is detected (see :mod:`.lidar` for the detection law)."""
    n = t.shape[0]
    ranges = np.full(n, np.inf, np.float32)
    apparent = np.zeros(n, np.float32)
    for i in nb.prange(n):
        r = t[i]
        if not (r <= max_range):  # also a miss (inf)
            continue
        m = material[i]
        rho = reflectivity[m]
        if snow_cover > 0.0 and snow_ok[m] and abs(normal[i, 2]) > 0.6:
            rho = rho * (1.0 - snow_cover) + snow_reflectivity * snow_cover
        cos_i = abs(normal[i, 0] * rays[i, 3] + normal[i, 1] * rays[i, 4] + normal[i, 2] * rays[i, 5])
        a = rho * cos_i
        if a >= min_reflectivity * (r / max_range) ** 2:
            ranges[i] = r
            apparent[i] = a
    return ranges, apparent


@nb.njit(cache=True, inline="always")
def _blend(image, v, u, c, brightness):  # noqa: ANN001, ANN201
    keep = np.float32(1.0) - c
    for ch in range(3):
        image[v, u, ch] = image[v, u, ch] * keep + c * brightness[ch]


@nb.njit(cache=True)
def draw_particles(image, x0, y0, x1, y1, radius, alpha, dots, brightness):  # noqa: ANN001, ANN201
    """Blend particles of radiance ``brightness`` (3,) into the float32 radiance ``image`` (H, W, 3)
    in place: streaks from (x0, y0) to (x1, y1) of width ``2 radius`` (at least one pixel), or discs
    of ``radius`` where ``dots``; each covers its pixels with opacity ``alpha`` (times the disc's
    sub-pixel coverage). All particles share one radiance, so blending them one after another,
    ``L <- L (1 - c) + c b``, leaves ``L0 prod(1 - c) + b (1 - prod(1 - c))``: the same in any order
    (up to float rounding), and only the covered pixels are touched."""
    h, w = image.shape[0], image.shape[1]
    for k in range(x0.shape[0]):
        a = alpha[k]
        if dots[k]:
            r = max(radius[k], 0.5)
            for v in range(max(int(y0[k] - r - 1), 0), min(int(y0[k] + r + 2), h)):
                for u in range(max(int(x0[k] - r - 1), 0), min(int(x0[k] + r + 2), w)):
                    d = math.hypot(u + 0.5 - x0[k], v + 0.5 - y0[k])
                    c = a * min(max(r + 0.5 - d, 0.0), 1.0)
                    if c > 0.0:
                        _blend(image, v, u, np.float32(c), brightness)
            continue
        dx, dy = x1[k] - x0[k], y1[k] - y0[k]
        steps = max(int(max(abs(dx), abs(dy))) + 1, 1)
        width = max(int(2.0 * radius[k] + 0.5), 1)
        for s in range(steps):
            f = s / steps
            u0 = int(x0[k] + dx * f)
            v = int(y0[k] + dy * f)
            if v < 0 or v >= h:
                continue
            for j in range(width):
                u = u0 + j - width // 2
                if 0 <= u < w:
                    _blend(image, v, u, np.float32(a), brightness)


@nb.njit(cache=True, parallel=True)
def write_rays(rays, origin, dirs):  # noqa: ANN001, ANN201
    """Fill rays (N, 6) with the one ``origin`` (3,) and the directions ``dirs`` (N, 3)."""
    for i in nb.prange(rays.shape[0]):
        for c in range(3):
            rays[i, c] = origin[c]
            rays[i, 3 + c] = dirs[i, c]


@nb.njit(cache=True, parallel=True)
def lidar_points(ranges, intensities, kind, hit_actor, dirs, origin, ring, hard, fog, particle, weather, background):  # noqa: ANN001, ANN201, PLR0913
    """Gather the detected returns (finite ``ranges``) of a sweep, in ray order: points (M, 4)
    float32 ``origin + dirs * range`` and intensity (``dirs`` (N, 3) the rays' unit directions and
    ``origin`` (3,) the sensor, in the frame the points are wanted in), rings (M,) and labels (M,)
    int32: the hit actor for a hard target (``kind == hard``), ``weather`` for a fog or particle
    echo, ``background`` otherwise."""
    n = ranges.shape[0]
    keep = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if math.isfinite(ranges[i]):
            keep[m] = i
            m += 1
    points = np.empty((m, 4), np.float32)
    rings = np.empty(m, ring.dtype)
    labels = np.empty(m, np.int32)
    for j in nb.prange(m):
        i = keep[j]
        r = ranges[i]
        for c in range(3):
            points[j, c] = origin[c] + dirs[i, c] * r
        points[j, 3] = intensities[i]
        rings[j] = ring[i]
        k = kind[i]
        if k == hard:
            labels[j] = hit_actor[i]
        elif k == fog or k == particle:
            labels[j] = weather
        else:
            labels[j] = background
    return points, rings, labels


@nb.njit(cache=True, parallel=True)
def instance_map(actor, id_of_actor):  # noqa: ANN001, ANN201
    """Object id (int32, same shape as ``actor``) of each actor index; ``id_of_actor[-1]`` for index -1 (none)."""
    flat = actor.ravel()
    out = np.empty(flat.shape[0], np.int32)
    last = id_of_actor.shape[0] - 1
    for i in nb.prange(flat.shape[0]):
        a = flat[i]
        out[i] = id_of_actor[a if a >= 0 else last]
    return out.reshape(actor.shape)


@nb.njit(cache=True)
def point_labels(actor, object_ids):  # noqa: ANN001, ANN201
    """Lidar point labels (int64): ``object_ids[a]`` for a hit on actor ``a >= 0``, negative codes
    (background, weather) kept; and the number of points on each actor (len(object_ids),)."""
    n = object_ids.shape[0]
    labels = np.empty(actor.shape[0], np.int64)
    counts = np.zeros(n, np.int64)
    for i in range(actor.shape[0]):
        a = actor[i]
        if 0 <= a < n:
            labels[i] = object_ids[a]
            counts[a] += 1
        else:
            labels[i] = a
    return labels, counts


@nb.njit(cache=True)
def actor_pixel_counts(actor, num_actors):  # noqa: ANN001, ANN201
    """How many entries of ``actor`` (any shape, int) equal each index 0..num_actors-1 (negatives skipped)."""
    counts = np.zeros(num_actors, np.int64)
    for a in actor.ravel():
        if 0 <= a < num_actors:
            counts[a] += 1
    return counts


@nb.njit(cache=True)
def crossing_counts(ray_splits, geometry, prim, actor_of_triangle, num_actors):  # noqa: ANN001, ANN201
    """Per actor, how many rays have at least one intersection with it; ray ``r``'s intersections
    are ``ray_splits[r]:ray_splits[r + 1]`` of the geometry and primitive ids (Open3D
    ``list_intersections``; geometry 1 holds the actors, geometry 0 the static world)."""
    counts = np.zeros(num_actors, np.int64)
    last = np.full(num_actors, -1, np.int64)
    for r in range(ray_splits.shape[0] - 1):
        for j in range(ray_splits[r], ray_splits[r + 1]):
            if geometry[j] != 1:
                continue
            a = actor_of_triangle[prim[j]]
            if last[a] != r:
                last[a] = r
                counts[a] += 1
    return counts
