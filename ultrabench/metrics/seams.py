"""Seam score: the step in colour at the lines where a tiled decoder or patch sampler joins its tiles.

A tiled VAE decode (Sana's DC-AE, 1024-pixel tiles at stride 896; diffusers' tiled decodes) or a
patch-based sampler (MultiDiffusion-style windows) can leave a line along every tile boundary: a
step in brightness or colour (a tile decoded a little brighter, a per-tile gain, a chroma shift), or
a band where the blending lost detail. Such lines run the full length of the image and sit where a
tiling puts them; content is neither. Definition (protocol `seam@step-null-v2`):

1. channels Y = 0.299 R + 0.587 G + 0.114 B, Cb = 0.564 (B - Y), Cr = 0.713 (R - Y) (BT.601, grey
   levels 0..255), native pixels;
2. step profile, for the boundary at column p (between columns p-1 and p), in each band of 64 rows
   and each channel: the mean of the WINDOW (4) columns after p minus the mean of the 4 before (so a
   step blurred over up to 4 pixels counts whole), less the mean of the same difference one window
   either side (a linear ramp of content cancels); squared and summed over Y, Cb, Cr; less its median
   over the boundaries 8..16 away on each side (the band's own gradient and noise there); then the
   median over bands (content edges fill a few bands, a seam all of them) and a signed square root:
   step[p], in grey levels;
3. blur profile: h[p] = per band, the mean |Y[:, p] - Y[:, p-1]|, averaged over the 5 boundaries
   p-2..p+2; blur[p] = median over bands of (h's median 8..16 boundaries away minus h[p]): the detail
   a band of blurring (a blended seam) lost, in grey levels per pixel;
4. line sets: for a stride s, the lines 0, s, 2s, ... at least 24 pixels from the image's edges (a
   tiling starts at the image's corner: lines at other offsets are no tiling's, and are not looked
   at); E(s, o) = the median (numpy 'lower') of the profile at the lines o, o + s, ...: a seam must
   be at half of its lines, so a divisor of its stride (every other line a seam) does not score.
   With an unknown tiling s runs over the candidate strides (default 128..1024 in steps of 64, which
   includes 896 and 960) and at least 3 lines are needed; with a known tiling (tile T at stride S,
   from the method's unit record: `tiling_of`) only s = S, at the offsets such a tiling makes, 0 and
   (T - S) mod S (where tiles start and where their blend ends), from one line up;
5. per-image null: z(s, o) = (E(s, o) - median of E(s, o')) / (1.4826 MAD of E(s, o'), at least 0.1
   grey levels) over the offsets o' of the same stride with o' = o modulo 16: how far this line set
   stands out from every other placement of the same grid in the same image; a grid every 8 or 16
   pixels (JPEG blocks, latent cells) is in the null, not a seam;
6. periodic content is not a seam: a stride s is refused when the luma is periodic at s or 2s (the
   mean |Y(x + ks) - Y(x)| on a 4x-reduced image, + 1, under half the median at shifts 3..7 reduced
   pixels away), so tiled textures and checkerboards do not fire;
7. detected: the line sets with z >= DETECT_Z (6; DETECT_Z_KNOWN = 5 with a known tiling) and
   E >= MIN_STEP (0.25 grey levels); the reported stride is the smallest detected one whose E is within
   80% of the best (the fundamental of its multiples, not a divisor), with its offset and profile (step or blur);
8. value (`seam`, grey levels) = the median of the profile at the detected lines, 0 when nothing is
   detected; beside it per image: z, axis, stride, offset, kind, and each axis's best z.

The value is the step one would measure by hand at the seam, so it does not depend on the image's
size or contrast, and a clean image scores exactly 0 at every resolution; how small a seam can be
and still be detected does depend on the size (more rows to average): reports/validation/ has both
at 4096, tests/test_native_photos.py at 1024.
"""

from __future__ import annotations

import numpy as np

DEFAULT_STRIDES = "128-1024/64"
BAND = 64  # rows averaged (signed) in each band: a seam is constant along its line
WINDOW = 4  # columns averaged each side of a boundary: a step blurred over up to 4 pixels is kept whole
BASE_NEAR, BASE_FAR = 8, 16  # the baseline: boundaries this far on each side (outside a blurred step)
EDGE = BASE_FAR + 2 * WINDOW  # lines nearer an edge have no baseline on one side
PHASE = 16  # the null of an offset: the offsets of the same stride that share its phase modulo 16
MIN_REPEATS = 3  # lines of an unknown tiling's grid (for 4096 pixels: strides up to 1024)
QUANTILE = 0.5  # of a line set's values (numpy "lower"): a seam must be at half of its lines, and a
# divisor of its stride (every other line a seam) then reads a line without one
SCALE_FLOOR = 0.1  # grey levels: the null's spread is never taken as smaller
DETECT_Z = 6.0  # standing out from every other placement of the grid, over ~60 candidate grids
DETECT_Z_KNOWN = 5.0  # with the stride known: two candidates per axis
MIN_STEP = 0.25  # grey levels
FUNDAMENTAL = 0.8  # a multiple of a seam stride reads a subset of its lines (same E); a divisor reads a
# content line where a seam is missing (lower E)
REDUCE = 4  # the periodicity test runs on a 4x-reduced luma
PERIODIC = 0.5
KINDS = ("step", "blur")
# seam_features() layout: the per-image feature vector the plugin caches
FIELDS = ("score", "z", "axis", "stride", "offset", "kind", "z_columns", "z_rows")


def parse_strides(spec: str) -> tuple[int, ...]:
    """'128-1024/64' (a range with a step) or '896,1024' (a list), or both joined by commas."""
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            rng, _, step = part.partition("/")
            lo, _, hi = rng.partition("-")
            out += list(range(int(lo), int(hi) + 1, int(step or 1)))
        else:
            out.append(int(part))
    if not out or min(out) < 2:
        raise ValueError(f"bad seam strides {spec!r}: give e.g. '128-1024/64' or '896,1024'")
    return tuple(sorted(set(out)))


def parse_tiling(spec: str) -> tuple[int, int] | None:
    """'1024/896' (tile side / stride, pixels) -> (1024, 896); '' -> None (unknown tiling)."""
    spec = str(spec or "").strip()
    if not spec:
        return None
    tile, _, stride = spec.partition("/")
    try:
        t, s = int(tile), int(stride or tile)
    except ValueError:
        t = s = 0
    if s < 2 or t < s:
        raise ValueError(f"bad tiling {spec!r}: give '<tile>/<stride>' in pixels, e.g. '1024/896'")
    return t, s


def tiling_of(record: dict) -> str:
    """The pixel tiling a unit record names ('tile/stride'), or '' when it names none: Sana's
    `info.vae_tiling` ({tile, stride}), or any adapter's `info.seam_tiling` ('tile/stride')."""
    info = (record or {}).get("info") or {}
    if info.get("seam_tiling"):
        return str(info["seam_tiling"])
    vt = info.get("vae_tiling")
    if isinstance(vt, dict) and vt.get("tile") and vt.get("stride"):
        return f"{int(vt['tile'])}/{int(vt['stride'])}"
    return ""


def luma(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(3, H, W) float32: Y, Cb, Cr in grey levels (BT.601, chroma unscaled by the 8-bit offsets)."""
    x = rgb.astype(np.float32)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return np.stack([y, 0.564 * (x[..., 2] - y), 0.713 * (x[..., 0] - y)])


def _baseline(v: np.ndarray) -> np.ndarray:
    """Median of v (..., n) over the positions BASE_NEAR..BASE_FAR away on each side, along the last
    axis (NaN where not all of them exist)."""
    n = v.shape[-1]
    out = np.full(v.shape, np.nan)
    if n <= 2 * BASE_FAR:
        return out
    win = np.lib.stride_tricks.sliding_window_view(v, 2 * BASE_FAR + 1, axis=-1)
    side = np.r_[0:BASE_FAR - BASE_NEAR + 1, BASE_FAR + BASE_NEAR:2 * BASE_FAR + 1]
    out[..., BASE_FAR:n - BASE_FAR] = np.median(win[..., side], axis=-1)
    return out


def _signed_sqrt(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.sqrt(np.abs(x))


def profiles(ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(step, blur) per boundary p = 0..W (NaN where undefined) for the vertical lines of (3, H, W)."""
    _, h, w = ch.shape
    nb = max(1, h // BAND)
    rows = nb * BAND if h >= BAND else h
    step = np.full(w + 1, np.nan)
    blur = np.full(w + 1, np.nan)
    if w < 2 * EDGE + 1:
        return step, blur
    bands = ch[:, :rows].reshape(3, nb, -1, w).mean(axis=2, dtype=np.float64)  # (3, nb, W)
    cs = np.concatenate([np.zeros((3, nb, 1)), np.cumsum(bands, axis=2)], axis=2)
    p = np.arange(WINDOW, w - WINDOW + 1)
    d = np.zeros((3, nb, w + 1))
    d[..., p] = (cs[..., p + WINDOW] - 2 * cs[..., p] + cs[..., p - WINDOW]) / WINDOW  # after minus before
    # less the mean of the same difference one window either side: a linear ramp of content cancels
    q = np.arange(2 * WINDOW, w - 2 * WINDOW + 1)
    m2 = np.zeros((nb, w + 1))
    m2[:, q] = ((d[..., q] - 0.5 * (d[..., q - WINDOW] + d[..., q + WINDOW])) ** 2).sum(axis=0)
    # per band, less its own neighbourhood; the median over bands ignores content edges in a few bands
    step[:] = _signed_sqrt(np.median(m2 - _baseline(m2), axis=0))
    hb = np.zeros((nb, w + 1))
    hb[:, 1:w] = np.abs(np.diff(ch[0, :rows], axis=1)).reshape(nb, -1, w - 1).mean(axis=1, dtype=np.float64)
    hs = np.zeros((nb, w + 1))
    hs[:, 3:w - 2] = np.lib.stride_tricks.sliding_window_view(hb[:, 1:w], 5, axis=1).mean(axis=2)
    blur[:] = np.median(_baseline(hs) - hs, axis=0)
    valid = np.zeros(w + 1, bool)
    valid[EDGE:w - EDGE + 1] = True
    step[~valid] = np.nan
    blur[~valid] = np.nan
    return step, blur


def line_sets(v: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(E(s, o), number of lines) for every offset o < s of profile v (boundaries 0..len-1)."""
    n = len(v)
    k = -(-n // s)
    grid = np.full(k * s, np.nan)
    grid[:n] = v
    grid = grid.reshape(k, s)
    count = np.isfinite(grid).sum(axis=0)
    at = np.floor(QUANTILE * (np.maximum(count, 1) - 1)).astype(np.int64)  # 'lower' quantile; NaN sorts last
    e = np.where(count > 0, np.take_along_axis(np.sort(grid, axis=0), at[None, :], axis=0)[0], np.nan)
    return e, count


def null_z(e: np.ndarray, o: int) -> float:
    """Offset o's E against every offset of the same stride in its phase modulo 16 (robust z): a grid
    every 8 or 16 pixels (JPEG's blocks and 4:2:0 macroblocks, a VAE's latent cells) is part of the
    null, not a seam."""
    same = e[o % PHASE::PHASE]
    same = same[np.isfinite(same)]
    if len(same) < 8 or not np.isfinite(e[o]):
        return float("nan")
    med = float(np.median(same))
    scale = max(1.4826 * float(np.median(np.abs(same - med))), SCALE_FLOOR)
    return (float(e[o]) - med) / scale


class _Periodicity:
    """Is the luma periodic at a shift? (mean |Y(x + shift) - Y(x)| far below nearby shifts')."""

    def __init__(self, y: np.ndarray):
        h, w = y.shape
        f = REDUCE if min(h, w) >= 8 * REDUCE else 1
        self.f = f
        self.y = y[:h // f * f, :w // f * f].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
        self._d: dict[int, float] = {}
        self._p: dict[int, bool] = {}

    def _mad(self, shift: int) -> float:
        if shift not in self._d:
            w = self.y.shape[1]
            self._d[shift] = float(np.abs(self.y[:, shift:] - self.y[:, :w - shift]).mean()) if 0 < shift < w - 8 \
                else np.nan
        return self._d[shift]

    def periodic(self, s: int) -> bool:
        if s not in self._p:
            self._p[s] = self._periodic(s)
        return self._p[s]

    def _periodic(self, s: int) -> bool:
        for k in (1, 2):
            sh = int(round(k * s / self.f))
            d = self._mad(sh)
            near = [self._mad(sh + o) for o in (-7, -5, -3, 3, 5, 7)]
            near = [x for x in near if np.isfinite(x)]
            if np.isfinite(d) and near and d + 1 < PERIODIC * (float(np.median(near)) + 1):
                return True
        return False


def axis_detect(ch: np.ndarray, strides, tiling: tuple[int, int] | None = None) -> tuple:
    """(value, z, stride, offset, kind index) for the vertical lines of (3, H, W); zeros if none."""
    profs = profiles(ch)
    per = _Periodicity(ch[0])
    if tiling is not None:
        t, s0 = tiling
        cands = [(s0, sorted({0, (t - s0) % s0}), 1)]
    else:
        cands = [(s, [0], MIN_REPEATS) for s in strides]
    thr = DETECT_Z if tiling is None else DETECT_Z_KNOWN
    found = []  # (E, z, stride, offset, kind)
    best_z = 0.0
    for s, offsets, need in cands:
        if s >= ch.shape[2] or per.periodic(s):
            continue
        for kind, v in enumerate(profs):
            e, count = line_sets(v, s)
            for o in offsets:
                z = null_z(e, o) if count[o] >= need else float("nan")
                if not np.isfinite(z):
                    continue
                best_z = max(best_z, z)
                if z >= thr and e[o] >= MIN_STEP:
                    found.append((float(e[o]), z, s, o, kind))
    if not found:
        return 0.0, max(0.0, best_z), 0, 0, 0
    top = max(f[0] for f in found)
    e, z, s, o, kind = min((f for f in found if f[0] >= FUNDAMENTAL * top), key=lambda f: (f[2], -f[1]))
    v = profs[kind]
    lines = v[o::s]
    value = float(np.median(lines[np.isfinite(lines)]))
    return max(value, 0.0), z, s, o, kind


def seam_features(rgb: np.ndarray, strides=parse_strides(DEFAULT_STRIDES), tiling=None) -> np.ndarray:
    """[value, z, axis (0 columns / 1 rows), stride, offset, kind (0 step / 1 blur), z columns, z rows]
    of one image; `tiling`: (tile, stride) in pixels from the method's record, or None (unknown)."""
    if isinstance(tiling, str):
        tiling = parse_tiling(tiling)
    ch = ycbcr(rgb)
    cols = axis_detect(ch, strides, tiling)
    rows = axis_detect(np.ascontiguousarray(ch.transpose(0, 2, 1)), strides, tiling)
    if cols[2] and (not rows[2] or cols[1] >= rows[1]):
        pick, axis = cols, 0
    elif rows[2]:
        pick, axis = rows, 1
    else:
        pick, axis = (0.0, max(cols[1], rows[1]), 0, 0, 0), 0
    value, z, stride, offset, kind = pick
    return np.array([value, z, axis, stride, offset, kind, cols[1], rows[1]], dtype=np.float64)
