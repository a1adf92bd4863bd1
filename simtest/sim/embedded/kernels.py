"""Compiled per-pixel and per-ray kernels of the camera, the lidar and the ground truth (numba).

The shading model is the one documented in :mod:`.shading`; these kernels only
fuse its per-pixel arithmetic into one pass so that shading costs less than
casting the rays. Curves shared with other modules (sky dome, Fresnel
reflectance, sRGB) come in as lookup tables built by those modules, so each
formula lives in one place.

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


def start_workers() -> None:
    """Start numba's worker threads (once) with OpenMP's passive wait policy.

    Idle OpenMP workers otherwise spin for milliseconds after every parallel loop, on a core that
    Embree's casting threads need next (measured with two threads: 154 ms of CPU per default frame
    against 69 ms with passive waiting and 67 ms on one thread). ``OMP_WAIT_POLICY`` is set only
    while the runtime starts (it reads it once, when loaded), so other OpenMP runtimes in the process
    (torch ships its own) keep theirs; a value set by the user is left alone.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        nb.get_num_threads()  # launches the threading layer
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        nb.get_num_threads()
    finally:
        del os.environ["OMP_WAIT_POLICY"]


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


GLINT_FLOOR = 1e-12
"""Phong lobe values ``cos^n`` below this are dropped (a glint of < 1e-5 cd/m^2 under a 1e5 lux sun)."""


@nb.njit(cache=True, inline="always")
def _lookup(table: np.ndarray, x: float) -> int:
    """Index into a table sampled uniformly over x in [0, 1]."""
    if x < 0.0:
        x = 0.0
    elif x > 1.0:
        x = 1.0
    return int(x * (table.shape[0] - 1) + 0.5)


_CHUNK = 4096
"""Pixels per chunk of the two-pass parallel compaction in :func:`sun_rays` (a fixed size, so the
output does not depend on the thread count)."""


@nb.njit(cache=True, parallel=True)
def sun_rays(dirs, t, n, origin, sun_dir, offset, shadows):  # noqa: ANN001, ANN201 - numba kernel
    """Sun-facing hits and their shadow rays, in one pass over the pixels.

    Returns ``sunlit`` (N,) float32 = ``max(n . s, 0)`` (NaN kept, as ``np.maximum``), the indices
    ``lit`` (int64, in order) of the pixels that hit a surface (``t`` finite) facing the sun, and
    one shadow ray (len(lit), 6) per lit pixel: from the hit point nudged ``offset`` m along the
    normal, towards the sun (none, shape (0, 6), unless ``shadows``).
    """
    npx = t.shape[0]
    nchunks = (npx + _CHUNK - 1) // _CHUNK
    sunlit = np.empty(npx, np.float32)
    counts = np.zeros(nchunks + 1, np.int64)
    sx, sy, sz = sun_dir[0], sun_dir[1], sun_dir[2]
    for c in nb.prange(nchunks):
        m = 0
        for i in range(c * _CHUNK, min((c + 1) * _CHUNK, npx)):
            s = n[i, 0] * sx + n[i, 1] * sy + n[i, 2] * sz
            if s > 0.0:
                if math.isfinite(t[i]):
                    m += 1
            elif s == s:  # negative or zero (NaN stays)
                s = np.float32(0.0)
            sunlit[i] = s
        counts[c + 1] = m
    start = np.cumsum(counts)
    lit = np.empty(start[nchunks], np.int64)
    rays = np.empty((start[nchunks] if shadows else 0, 6), np.float32)
    for c in nb.prange(nchunks):
        j = start[c]
        for i in range(c * _CHUNK, min((c + 1) * _CHUNK, npx)):
            if sunlit[i] > 0.0 and math.isfinite(t[i]):
                lit[j] = i
                if shadows:
                    for k in range(3):
                        rays[j, k] = origin[k] + dirs[i, k] * t[i] + n[i, k] * offset
                        rays[j, 3 + k] = sun_dir[k]
                j += 1
    return sunlit, lit, rays


@nb.njit(cache=True, parallel=True)
def shade_pixels(  # noqa: PLR0913 - one fused pass needs every input
    dirs, t, n, mat, sunlit, albedo_px, albedo_tab, emissive, wettable, snow_ok,
    sky_tab, sky_rgb, bounce, sun_rgb, sun_dir, sun_disc_cos, sun_disc,
    lamps, lamp_cd, lamp_rgb, lamp_radius,
    heads, head_frame, head_cd, head_rgb, head_shape,
    origin, wetness, snow_cover, snow_albedo, fresnel_tab, glint_exp,
    veil_e, veil_tint, alpha, airlight, out,
):  # noqa: ANN001, ANN201
    """Radiance of every pixel into ``out`` (N, 3) (see :func:`.shading.shade` for the model).

    ``sunlit`` is ``max(n . s, 0)`` times the shadow-ray visibility; ``lamps`` (K, 3) are sorted by x; ``albedo_px``
    (N, 3) overrides the material albedo when it has N rows (textured patches);
    ``head_shape`` = (sine of the peak elevation, horizontal spread as a tangent,
    vertical spread, cut-off and cut-off softness as sines of the elevation); ``veil_e`` > 0 adds veiling glare; ``alpha`` is the
    extinction coefficient (1/m) and ``airlight`` the fog radiance.
    """
    npx = dirs.shape[0]
    per_pixel_albedo = albedo_px.shape[0] == npx
    inv_pi = 1.0 / math.pi
    glint_norm = (glint_exp + 2.0) / (2.0 * math.pi)
    glint_min = GLINT_FLOOR ** (1.0 / glint_exp)  # below this cosine the lobe is < GLINT_FLOOR: skip the pow
    lamp_x = np.ascontiguousarray(lamps[:, 0])
    for i in nb.prange(npx):
        dx, dy, dz = dirs[i, 0], dirs[i, 1], dirs[i, 2]
        ti = t[i]
        r = g = b = 0.0
        if not math.isfinite(ti):
            k = _lookup(sky_tab, dz)
            r, g, b = sky_tab[k, 0], sky_tab[k, 1], sky_tab[k, 2]
            if dx * sun_dir[0] + dy * sun_dir[1] + dz * sun_dir[2] > sun_disc_cos:
                r += sun_disc[0]
                g += sun_disc[1]
                b += sun_disc[2]
        else:
            m = mat[i]
            nx, ny, nz = n[i, 0], n[i, 1], n[i, 2]
            up = 0.5 + 0.5 * nz
            down = 0.5 - 0.5 * nz
            s = sunlit[i]
            er = sky_rgb[0] * up + bounce * down + sun_rgb[0] * s
            eg = sky_rgb[1] * up + bounce * down + sun_rgb[1] * s
            eb = sky_rgb[2] * up + bounce * down + sun_rgb[2] * s
            if lamps.shape[0] or heads.shape[0]:
                px, py, pz = origin[0] + dx * ti, origin[1] + dy * ti, origin[2] + dz * ti
                w = 0.0
                # lamps are sorted by x: visit only those within lamp_radius in x
                q = np.searchsorted(lamp_x, px - lamp_radius)
                while q < lamps.shape[0] and lamps[q, 0] <= px + lamp_radius:
                    vx, vy, vz = lamps[q, 0] - px, lamps[q, 1] - py, lamps[q, 2] - pz
                    q += 1
                    if abs(vy) > lamp_radius or vz <= 0.0:
                        continue
                    dot = nx * vx + ny * vy + nz * vz
                    if dot <= 0.0:
                        continue
                    d2 = max(vx * vx + vy * vy + vz * vz, 0.25)
                    w += vz * dot / (d2 * d2)
                er += lamp_cd * w * lamp_rgb[0]
                eg += lamp_cd * w * lamp_rgb[1]
                eb += lamp_cd * w * lamp_rgb[2]
                h = 0.0
                for q in range(heads.shape[0]):
                    vx, vy, vz = px - heads[q, 0], py - heads[q, 1], pz - heads[q, 2]
                    ex = head_frame[0, 0] * vx + head_frame[0, 1] * vy + head_frame[0, 2] * vz
                    if ex <= 0.0:
                        continue
                    ey = head_frame[1, 0] * vx + head_frame[1, 1] * vy + head_frame[1, 2] * vz
                    # beam coordinates: tangent of the azimuth, sine of the elevation
                    across = (ey / ex) / head_shape[1]
                    if abs(across) > 6.5:  # exp(-21): outside the beam
                        continue
                    ez = head_frame[2, 0] * vx + head_frame[2, 1] * vy + head_frame[2, 2] * vz
                    d2 = max(vx * vx + vy * vy + vz * vz, 0.25)
                    inv = 1.0 / math.sqrt(d2)
                    sin_el = ez * inv
                    below = min(sin_el - head_shape[0], 0.0) / head_shape[2]
                    q2 = below * below + across * across
                    cos_in = -(nx * vx + ny * vy + nz * vz) * inv
                    if q2 > 42.0 or cos_in <= 0.0 or sin_el >= head_shape[3]:
                        continue
                    cut = min((head_shape[3] - sin_el) / head_shape[4], 1.0)
                    h += head_cd * math.exp(-0.5 * q2) * cut * cos_in / d2
                er += h * head_rgb[0]
                eg += h * head_rgb[1]
                eb += h * head_rgb[2]
            if per_pixel_albedo:
                ar, ag, ab = albedo_px[i, 0], albedo_px[i, 1], albedo_px[i, 2]
            else:
                ar, ag, ab = albedo_tab[m, 0], albedo_tab[m, 1], albedo_tab[m, 2]
            if snow_cover > 0.0 and snow_ok[m] and nz > 0.6:
                ar = ar * (1.0 - snow_cover) + snow_albedo * snow_cover
                ag = ag * (1.0 - snow_cover) + snow_albedo * snow_cover
                ab = ab * (1.0 - snow_cover) + snow_albedo * snow_cover
            em = emissive[m]
            r = ar * er * inv_pi + em * lamp_rgb[0]
            g = ag * eg * inv_pi + em * lamp_rgb[1]
            b = ab * eb * inv_pi + em * lamp_rgb[2]
            if wetness > 0.0 and wettable[m]:
                dn = dx * nx + dy * ny + dz * nz
                rz = dz - 2.0 * dn * nz
                fw = wetness * fresnel_tab[_lookup(fresnel_tab, -dn)]
                k = _lookup(sky_tab, rz)
                r += fw * sky_tab[k, 0]
                g += fw * sky_tab[k, 1]
                b += fw * sky_tab[k, 2]
                rx, ry = dx - 2.0 * dn * nx, dy - 2.0 * dn * ny
                c = rx * sun_dir[0] + ry * sun_dir[1] + rz * sun_dir[2]
                if c > glint_min and sun_rgb[1] > 0.0:
                    gl = fw * c**glint_exp * glint_norm
                    r += gl * sun_rgb[0]
                    g += gl * sun_rgb[1]
                    b += gl * sun_rgb[2]
        if veil_e > 0.0:
            c = min(max(dx * sun_dir[0] + dy * sun_dir[1] + dz * sun_dir[2], -1.0), 1.0)
            theta = max(math.degrees(math.acos(c)), 0.5)
            veil = 10.0 * veil_e / (theta * theta)
            r += veil * veil_tint[0]
            g += veil * veil_tint[1]
            b += veil * veil_tint[2]
        if alpha > 0.0:
            tr = math.exp(-alpha * ti) if math.isfinite(ti) else 0.0
            r = r * tr + airlight[0] * (1.0 - tr)
            g = g * tr + airlight[1] * (1.0 - tr)
            b = b * tr + airlight[2] * (1.0 - tr)
        out[i, 0] = r
        out[i, 1] = g
        out[i, 2] = b


@nb.njit(cache=True, parallel=True)
def encode_pixels(radiance, gain, inv_white2, lut, out):  # noqa: ANN001, ANN201
    """uint8 ``out`` (N, 3) from ``radiance`` (N, 3): gain, extended Reinhard, sRGB table."""
    top = lut.shape[0] - 1
    for i in nb.prange(radiance.shape[0]):
        for c in range(3):
            x = radiance[i, c] * gain
            y = x * (1.0 + x * inv_white2) / (1.0 + x)
            k = int(y * top)
            out[i, c] = lut[min(max(k, 0), top)]


@nb.njit(cache=True, parallel=True)
def decode_hits(geom, prim, normal, rays, num_static, material_of, actor_of, face_rays):  # noqa: ANN001, ANN201
    """Material and actor of each hit (-1 on a miss) from Embree's geometry and primitive ids
    (geometry 0 = static world, 1 = actors, whose triangles follow the static ones in the tables);
    with ``face_rays`` turns ``normal`` (N, 3) in place towards the rays' origins."""
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
        if face_rays and normal[i, 0] * rays[i, 3] + normal[i, 1] * rays[i, 4] + normal[i, 2] * rays[i, 5] > 0:
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


@nb.njit(cache=True)
def draw_particles(cover, x0, y0, x1, y1, radius, alpha, dots):  # noqa: ANN001, ANN201
    """Composite particles into the coverage image ``cover`` (H, W): streaks from (x0, y0) to
    (x1, y1) of width ``2 radius`` (at least one pixel), or discs of ``radius`` where ``dots``;
    each with opacity ``alpha``. Overlaps combine as ``1 - (1 - a)(1 - b)`` (order-free)."""
    h, w = cover.shape
    for k in range(x0.shape[0]):
        a = alpha[k]
        if dots[k]:
            r = max(radius[k], 0.5)
            for v in range(max(int(y0[k] - r - 1), 0), min(int(y0[k] + r + 2), h)):
                for u in range(max(int(x0[k] - r - 1), 0), min(int(x0[k] + r + 2), w)):
                    d = math.hypot(u + 0.5 - x0[k], v + 0.5 - y0[k])
                    c = a * min(max(r + 0.5 - d, 0.0), 1.0)
                    cover[v, u] = 1.0 - (1.0 - cover[v, u]) * (1.0 - c)
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
                    cover[v, u] = 1.0 - (1.0 - cover[v, u]) * (1.0 - a)


@nb.njit(cache=True, parallel=True)
def composite_cover(image, cover, brightness):  # noqa: ANN001, ANN201
    """``image (H, W, 3) = image * (1 - cover) + cover * brightness`` in place, in float32 like the
    NumPy expression: particles of coverage ``cover`` (H, W) and radiance ``brightness`` (3,)."""
    one = np.float32(1.0)
    for v in nb.prange(image.shape[0]):
        for u in range(image.shape[1]):
            c = cover[v, u]
            if c == 0.0:  # x * 1 + 0 * b == x exactly (b finite)
                continue
            keep = one - c
            for ch in range(3):
                image[v, u, ch] = image[v, u, ch] * keep + c * brightness[ch]


@nb.njit(cache=True, parallel=True)
def write_rays(rays, origin, dirs):  # noqa: ANN001, ANN201
    """Fill rays (N, 6) with the one ``origin`` (3,) and, when ``dirs`` has N rows, the directions (N, 3)."""
    with_dirs = dirs.shape[0] == rays.shape[0]
    for i in nb.prange(rays.shape[0]):
        for c in range(3):
            rays[i, c] = origin[c]
            if with_dirs:
                rays[i, 3 + c] = dirs[i, c]


@nb.njit(cache=True, parallel=True)
def shade_out(sunlit, lit, occluded):  # noqa: ANN001, ANN201
    """Zero ``sunlit`` at the pixels ``lit[j]`` whose shadow ray ``j`` is ``occluded``."""
    for j in nb.prange(lit.shape[0]):
        if occluded[j]:
            sunlit[lit[j]] = 0.0


@nb.njit(cache=True, parallel=True)
def lidar_points(ranges, intensities, kind, hit_actor, dirs, ring, hard, fog, particle, weather, background):  # noqa: ANN001, ANN201, PLR0913
    """Gather the detected returns (finite ``ranges``) of a sweep, in ray order: directions scaled
    by range (M, 3) float32 (to be rotated into the ego frame), intensities (M,), rings (M,) and
    labels (M,) int32: the hit actor for a hard target (``kind == hard``), ``weather`` for a fog
    or particle echo, ``background`` otherwise."""
    n = ranges.shape[0]
    keep = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if math.isfinite(ranges[i]):
            keep[m] = i
            m += 1
    scaled = np.empty((m, 3), np.float32)
    intens = np.empty(m, np.float32)
    rings = np.empty(m, ring.dtype)
    labels = np.empty(m, np.int32)
    for j in nb.prange(m):
        i = keep[j]
        r = ranges[i]
        for c in range(3):
            scaled[j, c] = dirs[i, c] * r
        intens[j] = intensities[i]
        rings[j] = ring[i]
        k = kind[i]
        if k == hard:
            labels[j] = hit_actor[i]
        elif k == fog or k == particle:
            labels[j] = weather
        else:
            labels[j] = background
    return scaled, intens, rings, labels


@nb.njit(cache=True, parallel=True)
def finish_points(points, offset, intens):  # noqa: ANN001, ANN201
    """``points[:, :3] += offset`` (3,) and ``points[:, 3] = intens`` in place (float32)."""
    for i in nb.prange(points.shape[0]):
        for c in range(3):
            points[i, c] += offset[c]
        points[i, 3] = intens[i]


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
def crossing_counts(ray_splits, prim, actor_of_triangle, num_actors):  # noqa: ANN001, ANN201
    """Per actor, how many rays have at least one intersection with it; ray ``r``'s intersections
    are the primitives ``prim[ray_splits[r]:ray_splits[r + 1]]`` (Open3D ``list_intersections``)."""
    counts = np.zeros(num_actors, np.int64)
    last = np.full(num_actors, -1, np.int64)
    for r in range(ray_splits.shape[0] - 1):
        for j in range(ray_splits[r], ray_splits[r + 1]):
            a = actor_of_triangle[prim[j]]
            if last[a] != r:
                last[a] = r
                counts[a] += 1
    return counts
