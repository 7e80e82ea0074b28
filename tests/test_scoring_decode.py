"""Odd inputs decode to the same RGB; broken files are reported by name, never dropped silently."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ultrabench.scoring.decode import prepare, to_rgb
from ultrabench.scoring.views import View

FULL, SHORT = View.of("resize-clean", size=299), View.of("short-side", size=224)


def crops(n):
    return View.of("crops-native", size=299, n=n, seed=0)


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
        r = prepare(str(tmp_path / name), [FULL])
        assert r.error and name in r.error and not r.views
    r = prepare(str(good), [FULL, crops(2), SHORT], "k")
    assert r.error is None and r.views[FULL.key].shape == (299, 299, 3)
    assert r.views[crops(2).key].shape == (2, 299, 299, 3) and len(r.boxes[crops(2).key]) == 2
    assert r.views[SHORT.key].shape == (224, 224, 3)
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 500, 3), np.uint8)).save(small)
    r = prepare(str(small), [crops(3), SHORT], "k")
    assert r.error is None and crops(3).key not in r.views and "smaller than the 299x299" in r.view_errors[crops(3).key]
    assert r.views[SHORT.key].shape == (224, 1120, 3)  # the other views are still made


def _png_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, "PNG", **kw)
    return b.getvalue()


def _pillow_only(monkeypatch, fn, *args):
    from ultrabench.scoring import decode

    with monkeypatch.context() as m:
        m.setattr(decode, "pyspng", None)
        return fn(*args)


def test_libspng_fast_path_gives_pillows_pixels_and_flags(monkeypatch):
    pytest.importorskip("pyspng")
    from ultrabench.scoring import decode

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, rng.integers(0, 256, (37, 53), dtype=np.uint8)])
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 8
    text_exif = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    text_exif.add_text("Raw profile type exif", "exif\n  10\n00000000000000000000\n")
    cases = {  # name -> (bytes, libspng used?)
        "rgb": (_png_bytes(Image.fromarray(rgb)), True),
        "rgb level 9": (_png_bytes(Image.fromarray(rgb), compress_level=9), True),
        "rgba": (_png_bytes(Image.fromarray(rgba, "RGBA")), True),
        "rgb + tRNS": (_png_bytes(Image.fromarray(rgb), transparency=(1, 2, 3)), True),
        "exif rotated": (_png_bytes(Image.fromarray(rgb), exif=exif), False),
        "exif in a text chunk": (_png_bytes(Image.fromarray(rgb), pnginfo=text_exif), False),
        "16-bit rgb": (_png48((rgb.astype(np.uint16) << 8) | 5), False),
        "grey": (_png_bytes(Image.fromarray(rgb[:, :, 0], "L")), False),
        "palette": (_png_bytes(Image.fromarray(rgb).convert("P")), False),
    }
    for name, (data, fast) in cases.items():
        assert (decode._spng_format(data) is not None) is fast, name
        got, flags, _ = decode.decode_rgb(data)
        ref, ref_flags, _ = _pillow_only(monkeypatch, decode.decode_rgb, data)
        np.testing.assert_array_equal(got, ref, err_msg=name)
        assert flags == ref_flags, name
    assert decode.decode_rgb(cases["rgba"][0])[1] == ["mode_RGBA", "alpha_dropped"]
    assert decode.decode_rgb(cases["exif rotated"][0])[0].shape == (53, 37, 3)


def test_prepare_is_the_same_with_and_without_libspng(tmp_path, monkeypatch):
    pytest.importorskip("pyspng")
    p = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (320, 640, 3), dtype=np.uint8)).save(p)
    want = [FULL, crops(2), SHORT]
    fast, slow = prepare(str(p), want, "k"), _pillow_only(monkeypatch, prepare, str(p), want, "k")
    for v in want:
        np.testing.assert_array_equal(fast.views[v.key], slow.views[v.key])
    assert fast.flags == slow.flags == [] and fast.boxes == slow.boxes
    # a damaged image body that libspng refuses is decided (and named) by Pillow
    data = bytearray(p.read_bytes())
    data[200:260] = bytes(60)
    (tmp_path / "bad.png").write_bytes(bytes(data))
    r = prepare(str(tmp_path / "bad.png"), want, "k")
    assert r.error and "bad.png" in r.error
