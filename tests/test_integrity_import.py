"""`ultrabench import` stores the pixels the scorer would read: EXIF orientation applied before the
size check, every mode converted by the scorer's own `to_rgb`; any rejected file makes it exit 1,
each rejection printed with its reason, the accepted images kept."""

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ultrabench.cli import app
from ultrabench.scoring.decode import to_rgb

H, W = 64, 32  # the requested size, as shown


def _png_rgb16(path, a):
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in a)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    src = root / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    Image.fromarray(ramp).save(src / "grey16.png")  # mode I;16
    _png_rgb16(src / "rgb16.png", rng.integers(0, 65536, (H, W, 3)))
    rgb8 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(rgb8).convert("P", palette=Image.Palette.ADAPTIVE).save(src / "palette.png")
    Image.fromarray(rgb8).convert("CMYK").save(src / "cmyk.tif")
    Image.fromarray(np.dstack([rgb8, rng.integers(0, 256, (H, W), dtype=np.uint8)])).save(src / "rgba.png")
    Image.fromarray(rgb8[:, :, 0]).convert("LA").save(src / "la.png")
    # stored 32 high x 64 wide, with an EXIF tag saying "rotate 90 clockwise to show": shown 64 x 32
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb8).transpose(Image.Transpose.ROTATE_90).save(src / "rotated.jpg", exif=exif, quality=95)
    Image.fromarray(rgb8[:40]).save(src / "small.png")  # wrong size
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    files = ["grey16.png", "rgb16.png", "palette.png", "cmyk.tif", "rgba.png", "la.png", "rotated.jpg", "small.png",
             "broken.png"]
    ids = {f: f"b{i + 1:04d}" for i, f in enumerate(files)}
    (root / "map.csv").write_text("prompt_id,file\n" + "".join(f"{ids[f]},{f}\n" for f in files))
    out = root / "run"
    r = CliRunner().invoke(app, ["import", "mine", str(src), "--mapping", str(root / "map.csv"), "--res", f"{H}x{W}",
                                 "--out", str(out)])
    return r, src, out / "mine" / f"{H}x{W}", ids


def test_any_rejected_file_exits_1_and_every_rejection_is_printed(imported):
    r, src, folder, ids = imported
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert f"error: rejected {ids['small.png']}: small.png is 40x32, requested 64x32" in lines
    assert any(line.startswith(f"error: rejected {ids['broken.png']}: broken.png is not a readable image") for line in lines)
    assert lines[-2] == "7 imported into mine/64x32; 2 rejected (of 9)"
    assert lines[-1] == "error: 2 file(s) rejected (listed above); the 7 accepted stay imported"
    assert len(list(folder.glob("*.png"))) == 7 and len(list(folder.glob("*.json"))) == 9


@pytest.mark.parametrize("name", ["grey16.png", "rgb16.png", "palette.png", "cmyk.tif", "rgba.png", "la.png",
                                  "rotated.jpg"])
def test_every_mode_is_stored_as_the_scorer_reads_it(imported, name):
    _, src, folder, ids = imported
    stored = np.asarray(Image.open(next(folder.glob(f"{ids[name]}__s*.png"))))
    with Image.open(src / name) as im:
        want, _ = to_rgb(im)
    assert stored.shape == (H, W, 3) and np.array_equal(stored, want)


def test_16_bit_grey_keeps_its_tones_and_exif_rotation_is_recorded(imported):
    _, src, folder, ids = imported
    grey = np.asarray(Image.open(next(folder.glob(f"{ids['grey16.png']}__s*.png"))))
    assert (grey == 255).mean() < 0.01 and len(np.unique(grey)) == 256  # not a plain convert("RGB"): 99.6% white
    rec = json.loads(next(folder.glob(f"{ids['rotated.jpg']}__s*.json")).read_text())
    assert rec["status"] == "ok" and rec["native"] == [H, W] and "exif_orientation_6" in rec["conversion"]


def test_a_rejected_mapping_writes_nothing(tmp_path):
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (W, H)).save(tmp_path / "imgs" / "a.png")
    (tmp_path / "map.csv").write_text("prompt_id,file\nnot-a-prompt,a.png\n")
    r = CliRunner().invoke(app, ["import", "mine", str(tmp_path / "imgs"), "--mapping", str(tmp_path / "map.csv"),
                                 "--res", f"{H}x{W}", "--out", str(tmp_path / "run")])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        "error: 1 prompt id(s) not in the spec's 1000 prompts: not-a-prompt")
    assert not (tmp_path / "run").exists()
