"""Odd inputs decode to the same RGB; broken files are reported by name, never dropped silently."""

import io
import struct
import zlib

import numpy as np
from PIL import Image

from ultrabench.scoring.decode import prepare, to_rgb


def _png48(arr):
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _roundtrip(img, fmt="PNG", **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    b.seek(0)
    return Image.open(b)


def test_modes_convert_consistently():
    g = np.random.default_rng(0).integers(0, 256, (40, 60), dtype=np.uint8)
    rgb_ref = np.repeat(g[:, :, None], 3, axis=2)
    for im in (Image.fromarray(g, "L"), Image.fromarray(rgb_ref).convert("RGBA"), Image.fromarray(g, "L").convert("P")):
        out, flags = to_rgb(_roundtrip(im))
        np.testing.assert_array_equal(out, rgb_ref)
    # 16-bit grey and 16-bit RGB keep the high byte alike
    g16 = (g.astype(np.uint16) << 8) | 0x7F
    out16, flags = to_rgb(_roundtrip(Image.fromarray(g16)))
    np.testing.assert_array_equal(out16, rgb_ref)
    out48, _ = to_rgb(Image.open(io.BytesIO(_png48(np.repeat(g16[:, :, None], 3, axis=2)))))
    np.testing.assert_array_equal(out48, rgb_ref)
    rgba, flags = to_rgb(_roundtrip(Image.fromarray(np.dstack([rgb_ref, np.zeros_like(g)]), "RGBA")))
    np.testing.assert_array_equal(rgba, rgb_ref)
    assert "alpha_dropped" in flags


def test_cmyk_jpeg_and_exif_rotation():
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :24] = (255, 0, 0)
    rgb[:, 24:] = (0, 0, 255)
    cmyk = _roundtrip(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=100)
    out, flags = to_rgb(cmyk)
    assert out.shape == (32, 48, 3) and "mode_CMYK" in flags
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 12
    im = Image.fromarray(rgb)
    ex = im.getexif()
    ex[0x0112] = 6  # rotate 90 clockwise on display
    out, flags = to_rgb(_roundtrip(im, "PNG", exif=ex))
    assert out.shape == (48, 32, 3) and "exif_orientation_6" in flags
    np.testing.assert_array_equal(out, np.rot90(rgb, k=-1))


def test_truncated_and_unreadable_files_are_reported(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for name in ("trunc.png", "junk.png"):
        r = prepare(str(tmp_path / name), {"resize": True})
        assert r.error and name in r.error and r.x299 is None
    r = prepare(str(good), {"resize": True, "crops": {"key": "k", "n": 2, "seed": 0}, "short224": True})
    assert r.error is None and r.x299.shape == (299, 299, 3) and r.crops.shape == (2, 299, 299, 3)
    assert r.short224.shape == (224, 224, 3)
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 500, 3), np.uint8)).save(small)
    r = prepare(str(small), {"crops": {"key": "k", "n": 3, "seed": 0}})
    assert r.error is None and r.crops is None and "smaller than the 299x299" in r.crop_error
