"""Views: what a feature extractor sees of a decoded image, made in the decode workers.

A view is a named kind plus parameters (`View("crops-native", size=299, n=3, seed=0)`); its `key` is
a stable string that names it in the feature cache and the protocol versions. Every view an
extractor asks for is computed from the one decoded array of the image, and a view asked for by two
extractors is computed once. This module imports numpy and PIL only, because it runs in the decode
workers (never torch).

Adding a view kind is one function registered with `view_kind`; it receives the RGB array, a PIL
image of the same pixels (made once per image and shared by every resize) and the image's
`ViewContext`, and returns an array, or `(array, boxes)` for kinds that place crops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class View:
    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **params: Any) -> "View":
        if kind not in VIEW_KINDS:
            raise KeyError(f"unknown view kind {kind!r}; known: {', '.join(sorted(VIEW_KINDS))}")
        return cls(kind, tuple(sorted(params.items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def key(self) -> str:
        """e.g. 'crops-native(n=3,seed=0,size=299)': names the view in caches and protocols."""
        if not self.params:
            return self.kind
        return f"{self.kind}(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"

    @property
    def keyed(self) -> bool:
        """True when the view depends on the image's crop key (prompt id and seed), not only its pixels."""
        return VIEW_KINDS[self.kind].keyed


# The crop key of images that have no (prompt id, seed): reference images, placed by their sha256.
# An empty key is refused: a generated image must never fall back to its content for crop positions.
CONTENT_KEY = "@content"


def placement_key(ctx: "ViewContext") -> str:
    """The key crop positions are drawn from: the image's crop key, or its sha256 for CONTENT_KEY."""
    if ctx.crop_key == CONTENT_KEY:
        return ctx.sha256
    if not ctx.crop_key:
        raise ValueError("crops need the image's key (prompt id and seed), or CONTENT_KEY for reference images")
    return ctx.crop_key


@dataclass(frozen=True)
class ViewContext:
    sha256: str
    crop_key: str  # "<prompt_id>__s<seed>" for generated images, CONTENT_KEY for reference images
    tiling: str = ""  # "<tile>/<stride>" pixels when the image's record names its tiling (the seam score)


@dataclass(frozen=True)
class ViewKind:
    fn: Callable[..., Any]
    keyed: bool = False  # crops placed per image key
    needs_pil: bool = False  # resizes start from one shared PIL image
    multi: bool = False  # returns stacked rows (crops, tiles): each row goes through the network
    # (h, w, **params) -> the (height, width) its boxes are placed in, when that is not the image's own
    canvas: Callable[..., tuple[int, int]] | None = None
    tiled: bool = False  # depends on the tiling the image's record names (ViewContext.tiling)


VIEW_KINDS: dict[str, ViewKind] = {}


def view_kind(name: str, *, keyed: bool = False, needs_pil: bool = False, multi: bool = False, canvas=None,
              tiled: bool = False):
    def register(fn):
        VIEW_KINDS[name] = ViewKind(fn, keyed, needs_pil, multi, canvas, tiled)
        return fn

    return register


def parse_key(key: str) -> View:
    """The inverse of `View.key`, for readers of stored boxes (the report's gallery)."""
    import ast

    kind, _, rest = key.partition("(")
    params = []
    for item in filter(None, rest.rstrip(")").split(",")):
        k, _, v = item.partition("=")
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            pass
        params.append((k, v))
    return View(kind, tuple(sorted(params)))


def canvas_size(key: str, height: int, width: int) -> tuple[int, int]:
    """(height, width) of the canvas the boxes of view `key` are placed in, for an image of that size."""
    view = parse_key(key)
    kind = VIEW_KINDS.get(view.kind)
    return kind.canvas(height, width, **view.kwargs) if kind is not None and kind.canvas else (height, width)


class ViewError(Exception):
    """This view cannot be made from this image (e.g. smaller than the crop); other views still can."""


def compute(view: View, rgb: np.ndarray, img: Image.Image | None, ctx: ViewContext):
    """The view's array (or (array, boxes)); raises ViewError when the image cannot give it."""
    return VIEW_KINDS[view.kind].fn(rgb, img, ctx, **view.kwargs)


# --------------------------------------------------------------------------------------------
# the built-in kinds
INCEPTION_SIZE = 299
CLIP_SHORT_SIDE = 224
_FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS, "nearest": Image.NEAREST,
            "box": Image.BOX}


@view_kind("resize-clean", needs_pil=True)
def resize_clean(rgb, img, ctx, size: int = INCEPTION_SIZE):
    """clean-fid 'clean' resize: PIL bicubic per channel on float32 ('F' mode), no re-quantisation.

    Each channel goes L -> F inside Pillow (exact for 8-bit values), which is what clean-fid's
    `Image.fromarray(x.astype(np.float32), mode="F")` produces, without two numpy copies per channel.
    """
    img = img if img is not None else Image.fromarray(rgb)
    out = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        ch = img.getchannel(c).convert("F")
        out[:, :, c] = np.asarray(ch.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return out


@view_kind("crops-native", keyed=True, multi=True)
def crops_native(rgb, img, ctx, size: int = 299, n: int = 3, seed: int = 0, resize: int | None = None):
    """`n` size x size crops at native pixels, placed per image key; `resize`: then each crop goes
    to resize x resize the clean-fid way (224 crops for a 299 network, as the UltraPixel authors may
    have done)."""
    from ultrabench.metrics import crops as cropmod

    h, w = rgb.shape[:2]
    if h < size or w < size:
        raise ViewError(f"smaller than the {size}x{size} crop of the patch metrics ({h}x{w})")
    boxes = cropmod.crop_positions(h, w, placement_key(ctx), n, size, seed)
    crops = cropmod.take_crops(rgb, boxes)
    if resize and resize != size:
        crops = np.stack([resize_clean(c, None, ctx, resize) for c in crops])
    return crops, boxes


def _paired_canvas(h, w, square: int = 4096, **_):
    return square, square


@view_kind("crops-paired", keyed=True, multi=True, needs_pil=True, canvas=_paired_canvas)
def crops_paired(rgb, img, ctx, size: int = 299, n: int = 20, seed: int = 0, square: int = 4096,
                 filter: str = "lanczos", resize: int | None = None):
    """Paired protocols (PixVerve-Bench): the image resized to square x square with a PIL filter,
    then `n` size x size crops whose positions depend on the prompt id only, so a method's image and
    its prompt's reference image are cut at identical coordinates."""
    from ultrabench.metrics import crops as cropmod

    if (rgb.shape[0], rgb.shape[1]) != (square, square):
        img = img if img is not None else Image.fromarray(rgb)
        rgb = np.asarray(img.resize((square, square), resample=_FILTERS[filter]))
    boxes = cropmod.crop_positions(square, square, cropmod.pair_key(placement_key(ctx)), n, size, seed)
    crops = cropmod.take_crops(rgb, boxes)
    if resize and resize != size:
        crops = np.stack([resize_clean(c, None, ctx, resize) for c in crops])
    return crops, boxes


@view_kind("tiles-native", multi=True)
def tiles_native(rgb, img, ctx, size: int = 224):
    """Tiles covering the whole image at native pixels (`crops.tile_grid`), row by row."""
    from ultrabench.metrics import crops as cropmod

    h, w = rgb.shape[:2]
    if h < size or w < size:
        raise ViewError(f"smaller than the {size}x{size} tiles of the native quality metrics ({h}x{w})")
    boxes = cropmod.tile_grid(h, w, size)
    return cropmod.take_crops(rgb, boxes), boxes


@view_kind("short-side", needs_pil=True)
def short_side(rgb, img, ctx, size: int = CLIP_SHORT_SIDE):
    """PIL bicubic resize of the short side to `size`, long side int(size * long / short)
    (the size rule of torchvision.Resize and transformers' CLIPImageProcessor)."""
    h, w = rgb.shape[:2]
    nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if (nh, nw) == (h, w):
        return np.asarray(rgb, dtype=np.uint8)
    img = img if img is not None else Image.fromarray(rgb)
    return np.asarray(img.resize((nw, nh), resample=Image.BICUBIC))


def _pil(img) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))


def resize_square(img, size: int = 224, filter: str = "bicubic") -> np.ndarray:
    """The whole image squashed to size x size with a PIL filter (PIL's filters are antialiased),
    uint8; FD-DINOv2's input as dgm-eval makes it (torchvision `Resize((224, 224), BICUBIC)` on a PIL
    image is this call)."""
    im = _pil(img)
    if im.size == (size, size):
        return np.asarray(im, dtype=np.uint8)
    return np.asarray(im.resize((size, size), resample=_FILTERS[filter]), dtype=np.uint8)


@view_kind("square", needs_pil=True)
def square(rgb, img, ctx, size: int = 224, filter: str = "bicubic"):
    return resize_square(img if img is not None else rgb, size, filter)


def centre_square(img, size: int = 336) -> np.ndarray:
    """The largest centred square (floor offsets) resized to size x size with PIL bicubic, uint8:
    what google-research/cmmd's `io_util._center_crop_and_resize` does to every file it reads. Its
    later `jax.image.resize` to 336x336 of a 336x336 array returns it unchanged (measured: max
    difference 0.0), so this is the whole of its resampling."""
    im = _pil(img)
    w, h = im.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    if (w, h) != (side, side):
        im = im.crop((left, top, left + side, top + side))
    if side != size:
        im = im.resize((size, size), resample=Image.BICUBIC)
    return np.asarray(im, dtype=np.uint8)


@view_kind("centre-square", needs_pil=True)
def centre_square_view(rgb, img, ctx, size: int = 336):
    return centre_square(img if img is not None else rgb, size)


def longest_side_pad(img, size: int = 224) -> np.ndarray:
    """(size, size, 3) float32 on the 0..255 scale: HPSv2's evaluation transform (`ResizeMaxSize(224,
    fill=0)`): scale = size / max(h, w), new size (round(h * scale), round(w * scale)), bicubic,
    antialiased, then zero padding (pad // 2 left/top, the rest right/bottom) before normalisation,
    so the bars are black.

    torch's antialiased bicubic is a port of Pillow's resampling, so each channel is resized in
    Pillow's float mode: same filter, no 8-bit rounding and no clipping (the tensor path clips
    neither). Measured against torchvision 0.29 on noise images: at most 1.4e-5 apart on [0, 1].
    Older torchvision (< 0.17) resized tensors without antialiasing; HPS scores of large images
    made with it differ from these. One departure: an image whose longest side is already `size`
    but not square is padded here; the reference hands the model a non-square tensor it cannot take.
    """
    im = _pil(img)
    if im.mode != "RGB":
        im = im.convert("RGB")
    w, h = im.size
    scale = size / float(max(h, w))
    nh, nw = round(h * scale), round(w * scale)
    out = np.zeros((size, size, 3), dtype=np.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    for c in range(3):
        ch = im.getchannel(c).convert("F")  # exact for 8-bit values
        if (nh, nw) != (h, w):
            ch = ch.resize((nw, nh), resample=Image.BICUBIC)
        out[top:top + nh, left:left + nw, c] = np.asarray(ch)
    return out


@view_kind("longest-side-pad", needs_pil=True)
def longest_side_pad_view(rgb, img, ctx, size: int = 224):
    return longest_side_pad(img if img is not None else rgb, size)


@view_kind("glcm")
def glcm(rgb, img, ctx):
    from ultrabench.metrics import texture

    return np.float64(texture.glcm_score(rgb))


@view_kind("seams", tiled=True)
def seams(rgb, img, ctx, strides: str = "128-1024/64"):
    from ultrabench.metrics import seams as seammod

    return seammod.seam_features(rgb, seammod.parse_strides(strides), ctx.tiling or None)


@view_kind("compression")
def compression(rgb, img, ctx, codec: str = "png"):
    from ultrabench.metrics import texture

    return np.float64(texture.compression_ratio(rgb, codec))


@view_kind("noise")
def noise(rgb, img, ctx):
    from ultrabench.metrics import texture

    return np.float64(texture.noise_sigma(rgb))
