"""`baselines.imported.import_images`: mapping files, missing/extra files, sizes, duplicates."""

import json

import pytest
from PIL import Image

from baselines.imported import Imported, import_images
from ultrabench.errors import UsageError
from ultrabench.resolution import Resolution
from ultrabench.runstore import RunStore


@pytest.fixture
def setup(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "prompts.jsonl").write_text("\n".join(json.dumps({"id": i, "prompt": f"prompt {i}"}) for i in ("a", "b", "c")))
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (64, 32), (255, 0, 0)).save(imgs / "a.png")  # W x H = 64 x 32 -> 32x64
    Image.new("RGB", (64, 32), (0, 255, 0)).save(imgs / "b.jpg")
    Image.new("RGB", (40, 40), (0, 0, 255)).save(imgs / "c.png")  # wrong size
    Image.new("RGB", (8, 8)).save(imgs / "stray.png")
    return run, imgs


def _csv(path, rows):
    path.write_text("prompt_id,file,model\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_import_reject_policy(setup, tmp_path):
    run, imgs = setup
    m = _csv(tmp_path / "map.csv", [("a", "a.png", "dall-e-3"), ("b", "b.jpg", "dall-e-3"), ("c", "c.png", "dall-e-3")])
    rep = import_images(run, "dalle3", imgs, m, "32x64", display_name="DALL-E 3")
    assert rep.imported == ["a", "b"] and [r[0] for r in rep.rejected] == ["c"]
    assert rep.extra_files == ["stray.png"]
    store = RunStore(run)
    ok = {r.prompt_id: r.data for r in store.records(method="dalle3")}
    assert set(ok) == {"a", "b"}
    rec = ok["a"]
    assert rec["kind"] == "import" and rec["policy"] == "reject" and rec["native"] == [32, 64]
    assert rec["delivered"] == [32, 64] and rec["latency"] is None and rec["prompt"] == "prompt a"
    assert rec["provenance"] == {"model": "dall-e-3"} and rec["source_file"].endswith("a.png")
    assert ok["b"]["source_format"] == "JPEG"
    bad = [r.data for r in store.records(method="dalle3", statuses=("error",))]
    assert len(bad) == 1 and "40x40" in bad[0]["error"] and bad[0]["native"] == [40, 40]
    assert "1 rejected" in rep.summary() and "extra" in rep.summary()


def test_import_resize_policy_jsonl(setup, tmp_path):
    run, imgs = setup
    m = tmp_path / "map.jsonl"
    m.write_text('{"prompt_id": "c", "file": "c.png", "seed": 7}\n')
    rep = import_images(run, "mj", imgs, m, Resolution(32, 64), policy="resize")
    assert rep.imported == ["c"] and rep.resized == ["c"]
    rec = next(RunStore(run).records(method="mj")).data
    assert rec["native"] == [40, 40] and rec["delivered"] == [32, 64] and rec["resize_filter"] == "lanczos"
    assert rec["seed"] == 7 and rec["policy"] == "resize"
    with Image.open(run / "mj" / "32x64" / rec["image"]) as im:
        assert im.size == (64, 32) and im.format == "PNG"


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("a", "a.png", "x"), ("a", "b.jpg", "x")], "appears more than once"),
        ([("a", "a.png", "x"), ("b", "a.png", "x")], "mapped to both"),
        ([("a", "nope.png", "x")], "not in"),
        ([("zzz", "a.png", "x")], "not in"),
    ],
)
def test_import_usage_errors(setup, tmp_path, rows, message):
    run, imgs = setup
    with pytest.raises(UsageError, match=message) as e:
        import_images(run, "x", imgs, _csv(tmp_path / "m.csv", rows), "32x64")
    assert "\n" not in str(e.value)
    assert not (run / "x").exists()


def test_import_bad_inputs(setup, tmp_path):
    run, imgs = setup
    m = _csv(tmp_path / "m.csv", [("a", "a.png", "x")])
    with pytest.raises(UsageError, match="policy"):
        import_images(run, "x", imgs, m, "32x64", policy="stretch")
    with pytest.raises(UsageError, match="does not exist"):
        import_images(run, "x", tmp_path / "missing", m, "32x64")
    with pytest.raises(UsageError):
        import_images(run, "scores", imgs, m, "32x64")  # reserved run-folder name
    (tmp_path / "empty.csv").write_text("prompt_id,file\n")
    with pytest.raises(UsageError, match="no rows"):
        import_images(run, "x", imgs, tmp_path / "empty.csv", "32x64")


def test_import_method_refuses_generate():
    with pytest.raises(UsageError, match="ultrabench import"):
        Imported().generate(["p"], [0], Resolution(64, 64))
