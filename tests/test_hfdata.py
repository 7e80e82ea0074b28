"""hf: sources (reference images, prompt sets) offline, from a dataset pre-fetched into the hub
cache the way `huggingface-cli download --repo-type dataset` leaves it."""

import io

import numpy as np
import pytest
from PIL import Image

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub.constants as hc

    hub = tmp_path / "hub"
    for var, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_CACHE", str(hub)),
                       ("HF_DATASETS_CACHE", str(tmp_path / "datasets")), ("ULTRABENCH_CACHE", str(tmp_path / "ub"))):
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    for attr, value in (("HF_HUB_OFFLINE", True), ("HF_DATASETS_OFFLINE", True),
                        ("HF_DATASETS_CACHE", tmp_path / "datasets")):
        if hasattr(datasets.config, attr):
            monkeypatch.setattr(datasets.config, attr, value)
    return hub


def _prefetched_dataset(hub, repo="ub-test/tiny-hr", n=3, images=None):
    """A dataset repo snapshot: data/train-*.parquet with JPEG image bytes (or `images`) and captions."""
    import datasets

    root = hub / f"datasets--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    data = root / "snapshots" / COMMIT / "data"
    data.mkdir(parents=True)
    rng, jpegs = np.random.default_rng(0), []
    for i in range(n):
        b = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (320, 400, 3), dtype=np.uint8)).save(b, "JPEG", quality=90)
        jpegs.append(b.getvalue())
    jpegs = images if images is not None else jpegs
    n = len(jpegs)
    ds = datasets.Dataset.from_dict({"image": [{"bytes": j, "path": f"{i}.jpg"} for i, j in enumerate(jpegs)],
                                     "caption": [f"caption number {i}" for i in range(n)]})
    ds.cast_column("image", datasets.Image()).to_parquet(str(data / "train-00000-of-00001.parquet"))
    return jpegs


def test_reference_from_a_prefetched_hub_dataset_keeps_the_original_files(hub, tmp_path):
    from ultrabench.scoring.api import build_reference, load_reference

    jpegs = _prefetched_dataset(hub)
    ref = load_reference(build_reference("hf:ub-test/tiny-hr", stand_ins=True, workers=0, patch_crops=2))
    # the CLI's long form names the split and the image column
    again = load_reference(build_reference("hf:ub-test/tiny-hr:train:image", stand_ins=True, workers=0, patch_crops=2))
    np.testing.assert_array_equal(again["full"], ref["full"])
    assert ref["meta"]["n_images"] == 3 and ref["meta"]["source"] == "hf:ub-test/tiny-hr"
    written = sorted((tmp_path / "ub" / "features" / "hf-datasets").rglob("*.jpg"))
    assert [p.read_bytes() for p in written] == jpegs  # the stored JPEG bytes, not a re-encoding
    folder = tmp_path / "same-files"
    folder.mkdir()
    for i, j in enumerate(jpegs):
        (folder / f"{i}.jpg").write_bytes(j)
    # other names, same content: reference crops are placed by content, so the patches agree too
    same = load_reference(build_reference(folder, stand_ins=True, workers=0, patch_crops=2))
    np.testing.assert_array_equal(ref["full"], same["full"])
    np.testing.assert_array_equal(ref["patch"], same["patch"])


def test_prompts_from_a_prefetched_hub_dataset(hub):
    from ultrabench.prompts.loading import load_prompts

    _prefetched_dataset(hub)
    prompts = load_prompts("hf:ub-test/tiny-hr:train:caption")
    assert [p.text for p in prompts] == ["caption number 0", "caption number 1", "caption number 2"]


def test_a_dataset_that_is_nowhere_here_is_one_line(hub):
    from ultrabench.errors import UsageError
    from ultrabench.scoring.api import build_reference

    with pytest.raises(UsageError, match="neither in datasets' cache nor in the hub cache") as e:
        build_reference("hf:ub-test/absent", stand_ins=True, workers=0)
    assert "\n" not in str(e.value) and str(hub) in str(e.value)
    with pytest.raises(UsageError, match="no image column 'caption_typo'"):
        _prefetched_dataset(hub)
        build_reference("hf:ub-test/tiny-hr:train:caption_typo", stand_ins=True, workers=0)


def test_doctor_says_where_an_hf_reference_would_be_read_from(hub, tmp_path):
    from typer.testing import CliRunner

    from ultrabench.cli import app

    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nreference = "hf:ub-test/tiny-hr"\nmetrics = ["fid"]\n[[methods]]\nname = "tiny-sd"\n')
    args = ["doctor", "--spec", str(spec), "--method", "tiny-sd", "--res", "64x64"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1
    assert ("reference hf:ub-test/tiny-hr is not on this machine (needed by fid); fetch it with "
            "`huggingface-cli download --repo-type dataset ub-test/tiny-hr`") in r.output
    _prefetched_dataset(hub)
    r = CliRunner().invoke(app, args)
    assert f"reference images: hf:ub-test/tiny-hr (hub-cache snapshot {hub}" in r.output


def test_hf_images_outside_the_scored_formats_become_png_and_a_broken_row_is_named(hub, tmp_path):
    from ultrabench.errors import UsageError
    from ultrabench.scoring.api import build_reference

    frames = []
    for i in range(2):
        b = io.BytesIO()
        Image.fromarray(np.full((310, 320), 40 * i, np.uint8), "L").convert("P").save(b, "GIF")
        frames.append(b.getvalue())
    _prefetched_dataset(hub, "ub-test/gifs", images=frames)
    build_reference("hf:ub-test/gifs", stand_ins=True, workers=0, patch_crops=1)
    written = sorted((tmp_path / "ub" / "features" / "hf-datasets").rglob("*.png"))
    assert [p.name for p in written] == ["0000000.png", "0000001.png"]
    assert np.asarray(Image.open(written[1])).tolist() == np.full((310, 320, 3), 40, np.uint8).tolist()
    _prefetched_dataset(hub, "ub-test/broken", images=[frames[0], b"not an image"])
    with pytest.raises(UsageError, match="row 1: unreadable image in column 'image'"):
        build_reference("hf:ub-test/broken", stand_ins=True, workers=0)
