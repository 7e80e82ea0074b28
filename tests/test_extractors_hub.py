"""The real-weight loading paths of the CLIP and PickScore metrics, on tiny models laid out in a
local Hugging Face cache exactly as the hub repos are (no download, no real weights)."""

import numpy as np
import pytest
import torch
from PIL import Image

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _snapshot(hub: "Path", repo: str) -> "Path":  # noqa: F821
    d = hub / f"models--{repo.replace('/', '--')}"
    (d / "refs").mkdir(parents=True, exist_ok=True)
    (d / "refs" / "main").write_text(COMMIT)
    snap = d / "snapshots" / COMMIT
    snap.mkdir(parents=True, exist_ok=True)
    return snap


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


def _image(h=300, w=517, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_clip_from_the_hub_cache_builds_the_tags_quickgelu(hub, monkeypatch):
    import open_clip
    from open_clip import factory, pretrained
    from open_clip.transformer import QuickGELU
    from safetensors.torch import save_file

    from ultrabench.scoring.decode import resize_short_side
    from ultrabench.scoring.engine import open_extractors

    monkeypatch.setitem(factory._MODEL_CONFIGS, "ub-tiny", TINY_CLIP)
    monkeypatch.setitem(pretrained._PRETRAINED, "ub-tiny",
                        {"openai": pretrained._pcfg(hf_hub="ub-test/tiny-clip/", quick_gelu=True)})
    torch.manual_seed(0)
    ref = open_clip.create_model("ub-tiny", force_quick_gelu=True).eval()
    f = _snapshot(hub, "ub-test/tiny-clip") / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, f)

    scorer = open_extractors(["clip"], {"clip_model": ("ub-tiny", "openai")}).model("clip")
    assert scorer.id == "open_clip:ub-tiny/openai" and not scorer.random_weights
    assert any(isinstance(m, QuickGELU) for m in scorer.model.modules())
    img = _image()
    pre = open_clip.image_transform(224, is_train=False)
    with torch.no_grad():
        ie = torch.nn.functional.normalize(ref.encode_image(pre(Image.fromarray(img))[None]), dim=-1)
        te = torch.nn.functional.normalize(ref.encode_text(open_clip.get_tokenizer("ub-tiny")(["a red bicycle"])), dim=-1)
    ours = scorer.score(scorer.image_embeddings([resize_short_side(img)]), scorer.text_embeddings(["a red bicycle"]))
    assert ours[0] == pytest.approx(100 * max(float((ie * te).sum()), 0.0), abs=1e-4)
    # what the tag prevents: the same file loaded as a bare path gets plain GELU and other embeddings
    from ultrabench.metrics.extractors.clip import ClipScorer

    bare = ClipScorer.from_pretrained("ub-tiny", f)
    assert not any(isinstance(m, QuickGELU) for m in bare.model.modules())
    assert not np.allclose(bare.image_embeddings([resize_short_side(img)]), scorer.image_embeddings([resize_short_side(img)]),
                           atol=1e-4)


def _pickscore_repos(hub, **processor):
    from transformers import CLIPImageProcessor

    from ultrabench.metrics.extractors import pickscore as ps
    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files

    model = ps.build_standin_pickscore(seed=3)
    model.save_pretrained(_snapshot(hub, ps.MODEL_REPO))
    proc = _snapshot(hub, ps.PROCESSOR_REPO)
    kw = dict(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}, resample=3, do_center_crop=True)
    CLIPImageProcessor(**{**kw, **processor}).save_pretrained(proc)
    write_clip_tokenizer_files(proc)
    return model, proc


def test_pickscore_from_the_hub_cache_equals_transformers(hub):
    from transformers import CLIPImageProcessor, CLIPTokenizer

    from ultrabench.metrics.extractors import pickscore as ps
    from ultrabench.scoring.decode import resize_short_side
    from ultrabench.scoring.engine import open_extractors

    model, proc = _pickscore_repos(hub)
    scorer = open_extractors(["pickscore"], {}).model("pickscore")
    assert scorer.id == f"transformers:{ps.MODEL_REPO}" and not scorer.random_weights
    imgs, prompt = [_image(seed=1), _image(517, 300, seed=2)], "a lighthouse at dusk"
    ours = scorer.score(scorer.image_embeddings([resize_short_side(i) for i in imgs]), scorer.text_embeddings([prompt] * 2))
    # PickScore's reference recipe: processor -> CLIPModel features -> logit_scale.exp() * cos. The
    # processor resizes with PIL, as transformers 4 always did; transformers 5's default torchvision
    # backend moves ~0.5% of pixels by one grey level, so it is not the reference.
    try:
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:  # transformers 4: the only CLIPImageProcessor is the PIL one
        pass
    ip, tok = CLIPImageProcessor.from_pretrained(proc), CLIPTokenizer.from_pretrained(proc)
    with torch.no_grad():
        x = ip(images=[Image.fromarray(i) for i in imgs], return_tensors="pt")["pixel_values"]
        ie = torch.nn.functional.normalize(ps._unwrap(model.get_image_features(pixel_values=x)), dim=-1)
        t = tok([prompt], padding=True, truncation=True, max_length=77, return_tensors="pt")
        te = torch.nn.functional.normalize(ps._unwrap(model.get_text_features(**t)), dim=-1)
        expected = (model.logit_scale.exp() * ie @ te.T)[:, 0]
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_pickscore_processor_that_is_not_the_implemented_one_is_refused(hub):
    from ultrabench.errors import UsageError
    from ultrabench.scoring.engine import open_extractors

    _pickscore_repos(hub, size={"shortest_edge": 256})
    with pytest.raises(UsageError, match="short side to 256"):
        open_extractors(["pickscore"], {})


def test_missing_pickscore_repo_is_named(hub):
    from ultrabench.errors import MissingWeightsError
    from ultrabench.scoring.engine import open_extractors

    with pytest.raises(MissingWeightsError, match="yuvalkirstain/PickScore_v1"):
        open_extractors(["pickscore"], {})
