"""Compiled per-pixel shading of the camera: sun-facing hits and their shadow rays, street lamps
and low beams, and the fused shading pass (numba).

The shading model is the one documented in :mod:`.shading`; these kernels only
fuse its per-pixel arithmetic so that shading costs less than casting the rays.
Curves shared with other modules (sky dome, Fresnel reflectance) come in as
lookup tables built by those modules, so each formula lives in one place.

*Artificial light.* A street lamp is a cosine-weighted downward emitter of
intensity ``I`` straight down: a point at offset ``v`` below it (``v_z > 0``),
facing it (``n . v > 0``), receives ``I v_z (n . v) / |v|^4``, counted within
``radius`` of the lamp in x and y. A low beam is Gaussian in the tangent of the
azimuth and in the sine of the elevation below its peak, cut off softly above
the horizon, inverse-square and cosine-weighted at the surface (:mod:`.lighting`
has its parameters). :func:`block_irradiance` evaluates every lamp and headlight
for every pixel of a block, with the conditions as masks, over the block's
coordinates laid out as separate rows, so that the compiler vectorises it
(8 pixels per instruction with AVX2); per pixel, branches over a few lights cost
several times more. It is exact up to float32 rounding and the exponential
(:func:`exp_neg`, relative error < 3e-6), which also gives the fog's transmission,
a block at a time.

Loops are ``prange`` loops whose iterations are independent (no reductions), so
results are byte-identical whatever the thread count (see :mod:`.kernels`).
All kernels that call one another live in this file: numba's on-disk cache
checks only the file of the function it compiled.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

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


_F = np.float32
BLOCK = 512
"""Pixels per block: the block's scratch rows (a few kB each) stay in the L1/L2 cache."""

ROWS = 10
"""Scratch rows of a block: x, y, z of the hit point, the normal's x, y, z, hit (1/0), the lamps'
weight and the headlights' irradiance (:func:`block_irradiance`), the atmosphere's transmission
(:func:`block_transmission`)."""
_TRANSMISSION = 9

_EXP_CENTRE = -0.65625
_EXP_COEF = tuple(_F(math.exp(_EXP_CENTRE) / math.factorial(k)) for k in range(10))


@nb.njit(cache=True, inline="always", error_model="numpy")
def exp_neg(x):  # noqa: ANN001, ANN201 - numba helper
    """``exp(x)`` in float32 for ``x`` in [-21, 0], in arithmetic only (so loops calling it vectorise):
    ``exp(x/16)^16`` with ``exp(u)``, u in [-1.31, 0], from its degree-9 Taylor series about -0.656."""
    u = x * _F(0.0625) - _F(_EXP_CENTRE)
    c = _EXP_COEF
    p = ((((((((c[9] * u + c[8]) * u + c[7]) * u + c[6]) * u + c[5]) * u + c[4]) * u + c[3]) * u + c[2]) * u
         + c[1]) * u + c[0]
    p = p * p
    p = p * p
    p = p * p
    return p * p


def beam_constants(heads: np.ndarray, head_frame: np.ndarray, head_shape: np.ndarray) -> np.ndarray:
    """Per-frame constants of the low beams (4 + H, 3) float32: rows 0-2 the ego axes (the world ->
    ego rotation ``head_frame``), row 3 the reciprocals of the horizontal spread (a tangent), of the
    vertical spread and of the cut-off softness (sines), rows 4.. each headlight's position in ego
    axes, so that a point's offset from a headlight is one rotation of the point minus its row."""
    frame = np.asarray(head_frame, np.float64)
    spreads = 1.0 / np.asarray(head_shape, np.float64)[[1, 2, 4]]
    heads_ego = np.asarray(heads, np.float64).reshape(-1, 3) @ frame.T
    return np.concatenate([frame, spreads[None, :], heads_ego]).astype(np.float32)


@nb.njit(cache=True)
def lamps_within(lamps, origin, reach):  # noqa: ANN001, ANN201
    """The rows of ``lamps`` (K, 3) float32 closer than ``reach`` (m) to ``origin`` (3,) float32, in
    order: the squared distance in float32, summed x, y then z (as NumPy sums a row), below reach^2."""
    r2 = _F(reach * reach)
    keep = np.empty(lamps.shape[0], np.bool_)
    for q in range(lamps.shape[0]):
        dx, dy, dz = lamps[q, 0] - origin[0], lamps[q, 1] - origin[1], lamps[q, 2] - origin[2]
        keep[q] = (dx * dx + dy * dy) + dz * dz < r2
    return lamps[keep]


@nb.njit(cache=True, error_model="numpy")
def block_transmission(t, alpha, out):  # noqa: ANN001, ANN201
    """``out[j] = exp(-alpha t[j])`` (Koschmieder transmission, float32) for a block of hit distances,
    0 on a miss (t = inf) and below exp(-21) = 8e-10, where nothing shows through the fog."""
    a = _F(-alpha)
    for j in range(t.shape[0]):
        x = max(a * t[j], _F(-21.0))
        e = exp_neg(x)
        out[j] = e if x > _F(-21.0) else _F(0.0)


_FAR = _F(3e38)


@nb.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf", "nsz", "reassoc"})
def _hit_box(x, y, z, hit):  # noqa: ANN001, ANN201
    """Bounding box (x0, x1, y0, y1, z0, z1) of the points with ``hit > 0`` (x0 > x1 when none).
    Minima and maxima of finite values in any order are exact: the flags let the compiler vectorise."""
    x0 = y0 = z0 = _FAR
    x1 = y1 = z1 = -_FAR
    for j in range(x.shape[0]):
        on = hit[j] > _F(0.0)
        x0, x1 = min(x0, x[j] if on else _FAR), max(x1, x[j] if on else -_FAR)
        y0, y1 = min(y0, y[j] if on else _FAR), max(y1, y[j] if on else -_FAR)
        z0, z1 = min(z0, z[j] if on else _FAR), max(z1, z[j] if on else -_FAR)
    return x0, x1, y0, y1, z0, z1


@nb.njit(cache=True, inline="always")
def _above_cut_off(x0, x1, y0, y1, z0, z1, beam, q, cutoff):  # noqa: ANN001, ANN201, PLR0913
    """Whether every point of the box [x0, x1] x [y0, y1] x [z0, z1] (world) lies above the cut-off of
    headlight ``q`` (sine of the elevation >= ``cutoff`` > 0), for level ego axes: its lowest height
    over the headlight, over its farthest corner's distance, already clears the cut-off (with a margin
    for float32 rounding), so the beam adds exactly nothing there."""
    hx = beam[0, 0] * beam[4 + q, 0] + beam[1, 0] * beam[4 + q, 1]  # the headlight in world axes
    hy = beam[0, 1] * beam[4 + q, 0] + beam[1, 1] * beam[4 + q, 1]
    rise = z0 - beam[4 + q, 2]
    dx = max(abs(x0 - hx), abs(x1 - hx))
    dy = max(abs(y0 - hy), abs(y1 - hy))
    dz = max(abs(z0 - beam[4 + q, 2]), abs(z1 - beam[4 + q, 2]))
    return rise > 0.0 and rise >= 1.001 * cutoff * math.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3


@nb.njit(cache=True, error_model="numpy")
def block_irradiance(dirs, t, n, origin, lamps, radius, beam, head_shape, head_cd, s):  # noqa: ANN001, ANN201, PLR0913
    """Fill the scratch ``s`` (ROWS, >= m) for a block of m camera rays (``dirs`` (m, 3) unit world
    directions from ``origin``, hit distances ``t`` (m,), inf on a miss, normals ``n`` (m, 3) facing
    the camera): ``s[7]`` the lamps' weight (times a lamp's downward intensity: lux), ``s[8]`` the
    headlights' irradiance (lux), both 0 on a miss. ``lamps`` (K, 3) float32 are the lamp heads,
    ``beam`` comes from :func:`beam_constants`, ``head_shape`` is ``shading.HEADLIGHT_SHAPE``."""
    m = t.shape[0]
    x, y, z, nx, ny, nz, hit, w, h = s[0, :m], s[1, :m], s[2, :m], s[3, :m], s[4, :m], s[5, :m], s[6, :m], s[7, :m], s[8, :m]
    o0, o1, o2 = origin[0], origin[1], origin[2]
    d, q3 = dirs.reshape(-1), n.reshape(-1)  # flat: the compiler then reads the (m, 3) rows as one stream
    for j in range(m):
        tj = t[j]
        hj = tj < np.inf
        tj = tj if hj else _F(0.0)
        x[j] = o0 + d[3 * j] * tj
        y[j] = o1 + d[3 * j + 1] * tj
        z[j] = o2 + d[3 * j + 2] * tj
        nx[j] = q3[3 * j]
        ny[j] = q3[3 * j + 1]
        nz[j] = q3[3 * j + 2]
        hit[j] = _F(1.0) if hj else _F(0.0)
        w[j] = _F(0.0)
        h[j] = _F(0.0)
    # the block's bounding box over its hits: lamps outside it by more than the radius add exactly 0
    x0, x1, y0, y1, z0, z1 = _hit_box(x, y, z, hit)
    if x0 > x1:  # no hit in the block
        return
    r = _F(radius)
    for q in range(lamps.shape[0]):
        lx, ly, lz = lamps[q, 0], lamps[q, 1], lamps[q, 2]
        if lx < x0 - r or lx > x1 + r or ly < y0 - r or ly > y1 + r or lz <= z0:
            continue
        for j in range(m):
            vx, vy, vz = lx - x[j], ly - y[j], lz - z[j]
            dot = nx[j] * vx + ny[j] * vy + nz[j] * vz
            d2 = max(vx * vx + vy * vy + vz * vz, _F(0.25))
            c = vz * dot / (d2 * d2)
            c = c if abs(vx) <= r else _F(0.0)
            c = c if abs(vy) <= r else _F(0.0)
            c = c if vz > _F(0.0) else _F(0.0)
            c = c if dot > _F(0.0) else _F(0.0)
            w[j] += c if hit[j] > 0 else _F(0.0)
    a00, a01, a02, a10, a11, a12 = beam[0, 0], beam[0, 1], beam[0, 2], beam[1, 0], beam[1, 1], beam[1, 2]
    a20, a21, a22 = beam[2, 0], beam[2, 1], beam[2, 2]
    across_k, below_k, soft_k = beam[3, 0], beam[3, 1], beam[3, 2]
    peak, cutoff, cd = _F(head_shape[0]), _F(head_shape[3]), _F(head_cd)
    level = abs(a22 - 1.0) < 1e-6  # ego axes with z up: a point's height over a headlight is z - hz
    for q in range(beam.shape[0] - 4):
        hx, hy, hz = beam[4 + q, 0], beam[4 + q, 1], beam[4 + q, 2]
        if level and _above_cut_off(x0, x1, y0, y1, z0, z1, beam, q, cutoff):
            continue
        for j in range(m):
            ex = a00 * x[j] + a01 * y[j] + a02 * z[j] - hx  # offset from the headlight, ego axes
            ey = a10 * x[j] + a11 * y[j] + a12 * z[j] - hy
            ez = a20 * x[j] + a21 * y[j] + a22 * z[j] - hz
            mx = a00 * nx[j] + a01 * ny[j] + a02 * nz[j]  # the normal, ego axes
            my = a10 * nx[j] + a11 * ny[j] + a12 * nz[j]
            mz = a20 * nx[j] + a21 * ny[j] + a22 * nz[j]
            across = ey / ex * across_k  # tangent of the azimuth over its spread
            d2 = max(ex * ex + ey * ey + ez * ez, _F(0.25))
            inv = _F(1.0) / math.sqrt(d2)
            sin_el = ez * inv
            cos_in = -(mx * ex + my * ey + mz * ez) * inv
            below = min(sin_el - peak, _F(0.0)) * below_k
            q2 = below * below + across * across
            cut = min((cutoff - sin_el) * soft_k, _F(1.0))
            e = cd * exp_neg(_F(-0.5) * min(q2, _F(42.0))) * cut * cos_in * (inv * inv)
            e = e if ex > _F(0.0) else _F(0.0)  # behind the headlight (also a NaN azimuth)
            e = e if abs(across) <= _F(6.5) else _F(0.0)  # exp(-21): outside the beam
            e = e if q2 <= _F(42.0) else _F(0.0)
            e = e if sin_el < cutoff else _F(0.0)
            e = e if cos_in > _F(0.0) else _F(0.0)
            h[j] += e if hit[j] > 0 else _F(0.0)


_CHUNK = 4096
"""Pixels per chunk of the two-pass parallel compaction in :func:`sun_rays` (a fixed size, so the
output does not depend on the thread count)."""


@nb.njit(cache=True, parallel=True, error_model="numpy")
def sun_rays(dirs, t, n, origin, sun_dir, offset, shadows, sunlit, lit_buf, rays_buf):  # noqa: ANN001, ANN201, PLR0913
    """Sun-facing hits and their shadow rays, in two passes over the pixels, written into the
    caller's buffers (``sunlit`` (N,) float32, ``lit_buf`` (>= N,) int64, ``rays_buf`` (>= N, 6)
    float32, or (0, 6) without shadows), which a renderer keeps from frame to frame.

    Returns ``sunlit`` = ``max(n . s, 0)`` (NaN kept, as ``np.maximum``), the indices ``lit``
    (int64, in order) of the pixels that hit a surface (``t`` finite) facing the sun, and one
    shadow ray (len(lit), 6) per lit pixel: from the hit point nudged ``offset`` m along the
    normal, towards the sun (none, shape (0, 6), unless ``shadows``); both views of the buffers.

    The first pass (``sunlit`` and each chunk's count) is written over slices of the chunk with
    selects instead of branches, so the compiler vectorises it (4 times faster than per pixel
    branches); the second lists each chunk's lit pixels at its offset, then writes their rays.
    """
    npx = t.shape[0]
    nchunks = (npx + _CHUNK - 1) // _CHUNK
    counts = np.zeros(nchunks + 1, np.int64)
    sx, sy, sz = sun_dir[0], sun_dir[1], sun_dir[2]
    nf, df = n.reshape(-1), dirs.reshape(-1)
    zero, finite = _F(0.0), _F(3.4e38)  # t <= finite: a hit (a miss is +inf)
    for c in nb.prange(nchunks):
        lo = c * _CHUNK
        m = min(_CHUNK, npx - lo)
        q, tc, sc = nf[3 * lo:3 * (lo + m)], t[lo:lo + m], sunlit[lo:lo + m]
        count = 0
        for j in range(m):
            s = q[3 * j] * sx + q[3 * j + 1] * sy + q[3 * j + 2] * sz
            s = zero if s <= zero else s
            sc[j] = s
            count += np.int32(s > zero) & np.int32(tc[j] <= finite)
        counts[c + 1] = count
    start = np.cumsum(counts)
    lit = lit_buf[:start[nchunks]]
    rays = rays_buf[:start[nchunks] if shadows else 0]
    rf = rays.reshape(-1)
    off = _F(offset)
    for c in nb.prange(nchunks):
        lo = c * _CHUNK
        m = min(_CHUNK, npx - lo)
        first, k = start[c], counts[c + 1]
        tc, sc, idx = t[lo:lo + m], sunlit[lo:lo + m], lit[first:first + k]
        j = 0
        for jj in range(m):
            if sc[jj] > zero and tc[jj] <= finite:
                idx[j] = lo + jj
                j += 1
        if shadows:
            r = rf[6 * first:6 * (first + k)]
            for j in range(k):
                i = idx[j]
                ti = t[i]
                for a in range(3):
                    r[6 * j + a] = origin[a] + df[3 * i + a] * ti + nf[3 * i + a] * off
                    r[6 * j + 3 + a] = sun_dir[a]
    return sunlit, lit, rays


@nb.njit(cache=True, parallel=True)
def shade_out(sunlit, lit, occluded):  # noqa: ANN001, ANN201
    """Zero ``sunlit`` at the pixels ``lit[j]`` whose shadow ray ``j`` is ``occluded``."""
    for j in nb.prange(lit.shape[0]):
        if occluded[j]:
            sunlit[lit[j]] = 0.0


@nb.njit(cache=True)
def _golden_stride(n):  # noqa: ANN001, ANN201
    """A step coprime with ``n`` near ``0.618 n``: the blocks ``k * step % n`` visit every block once,
    and any run of consecutive ``k`` (one thread's share of a parallel loop) is spread over the
    image, so threads get as much sky (cheap) and ground (dear) as each other."""
    s = max(int(n * 0.6180339887), 1)
    while math.gcd(s, n) != 1:
        s += 1
    return s


@nb.njit(cache=True, parallel=True)
def shade_pixels(  # noqa: PLR0913 - one fused pass needs every input
    dirs, t, n, mat, sunlit, albedo_px, albedo_tab, emissive, wettable, snow_ok,
    sky_tab, sky_rgb, bounce, sun_rgb, sun_dir, sun_disc_cos, sun_disc,
    lamps, lamp_cd, lamp_rgb, lamp_radius,
    beam, head_cd, head_rgb, head_shape,
    origin, wetness, snow_cover, snow_albedo, fresnel_tab, glint_exp,
    veil_e, veil_tint, alpha, airlight, out,
):  # noqa: ANN001, ANN201
    """Radiance of every pixel into ``out`` (N, 3) (see :func:`.shading.shade` for the model).

    ``sunlit`` is ``max(n . s, 0)`` times the shadow-ray visibility; ``albedo_px`` (N, 3) overrides the
    material albedo when it has N rows (textured patches); ``lamps`` (K, 3) and the low beams
    (``beam`` from :func:`beam_constants`, ``head_shape`` = (sine of the peak
    elevation, horizontal spread as a tangent, vertical spread, cut-off and cut-off softness as
    sines of the elevation)) light the hits through :func:`block_irradiance`,
    evaluated per block of pixels; ``veil_e`` > 0 adds veiling glare; ``alpha`` is the extinction
    coefficient (1/m) and ``airlight`` the fog radiance.
    """
    npx = dirs.shape[0]
    per_pixel_albedo = albedo_px.shape[0] == npx
    inv_pi = 1.0 / math.pi
    glint_norm = (glint_exp + 2.0) / (2.0 * math.pi)
    glint_min = GLINT_FLOOR ** (1.0 / glint_exp)  # below this cosine the lobe is < GLINT_FLOOR: skip the pow
    lights = lamps.shape[0] > 0 or beam.shape[0] > 4
    nblocks = (npx + BLOCK - 1) // BLOCK
    stride = _golden_stride(nblocks)
    for blk in nb.prange(nblocks):
        lo = (blk * stride) % nblocks * BLOCK
        hi = min(lo + BLOCK, npx)
        art = np.empty((ROWS, BLOCK), np.float32)
        if lights:
            block_irradiance(dirs[lo:hi], t[lo:hi], n[lo:hi], origin, lamps, lamp_radius, beam, head_shape, head_cd, art)
        if alpha > 0.0:
            block_transmission(t[lo:hi], alpha, art[_TRANSMISSION])
        for i in range(lo, hi):
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
                if lights:
                    w = lamp_cd * art[7, i - lo]
                    h = art[8, i - lo]
                    er += w * lamp_rgb[0] + h * head_rgb[0]
                    eg += w * lamp_rgb[1] + h * head_rgb[1]
                    eb += w * lamp_rgb[2] + h * head_rgb[2]
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
                tr = art[_TRANSMISSION, i - lo]
                r = r * tr + airlight[0] * (1.0 - tr)
                g = g * tr + airlight[1] * (1.0 - tr)
                b = b * tr + airlight[2] * (1.0 - tr)
            out[i, 0] = r
            out[i, 1] = g
            out[i, 2] = b
