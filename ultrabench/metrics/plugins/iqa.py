"""No-reference image quality on tiles covering the whole image at native pixels: MUSIQ, MANIQA and
CLIP-IQA through pyiqa (`pip install 'ultrabench[iqa]'`), whose weight files are read from local
caches, never downloaded by a score.

Per image: the mean of the model's score over the tiles of `ultrabench.metrics.crops.tile_grid`
(ceil(H/t) x ceil(W/t) tiles of t x t pixels spread edge to edge); the tile boxes are stored in
per_image.parquet's `crops` column like every crop. pyiqa itself is licensed PolyForm Noncommercial
1.0.0 (and S-Lab License 1.0), so these scores are for non-commercial use.

Each network is built the way `pyiqa.create_metric(name)` builds it, with two differences that do
not change a score:
- MANIQA's constructor asks timm for ImageNet ViT-B/8 weights that its KonIQ checkpoint then
  overwrites whole (a strict load), so timm is not asked: only the checkpoint is needed offline.
- MANIQA scores 20 crops of 224 pixels per input and averages over all of their patches; a 224 tile
  gives 20 identical crops (pyiqa first resizes it to 225 and steps by (225 - 224) // 4 = 0), so one
  crop gives the same score at a twentieth of the cost (measured on the CPU: 4e-9 apart; 3 tiles
  took 145 s with 20 crops, 4.3 s with one).
"""

from __future__ import annotations

import contextlib
import io

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net, mean_per_image

WEIGHTS_REPO = "chaofengc/IQA-PyTorch-Weights"
NON_COMMERCIAL = "non-commercial (pyiqa: PolyForm Noncommercial 1.0.0; S-Lab License 1.0)"
MISSING = "pyiqa is not installed: `pip install 'ultrabench[iqa]'` adds it for musiq, maniqa and clipiqa"
# openai-clip, which pyiqa imports for CLIP-IQA's tokenizer, imports pkg_resources (setuptools < 81)
NO_PKG_RESOURCES = "openai-clip (pyiqa's CLIP-IQA) needs pkg_resources, gone in setuptools 81: pip install 'setuptools<81'"
CLIP_RN50_URL = ("https://openaipublic.azureedge.net/clip/models/"
                 "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt")
# pyiqa's prompt pairs (clipiqa_arch.CLIPIQA): per pair the softmax of the two similarities, the
# score is the positive prompt's probability averaged over the pairs
CLIPIQA_PROMPTS = ("Good/bad image, Sharp/blurry image, sharp/blurry edges, High/low resolution image, "
                   "Noise-free/noisy image")
# metric -> (pyiqa metric name, weight file, tile side, what the tile score is)
MODELS = {
    "musiq": ("musiq", "musiq_koniq_ckpt-e95806b9.pth", 512, "MUSIQ (KonIQ-10k head), multi-scale ViT"),
    "maniqa": ("maniqa", "ckpt_koniq10k.pt", 224, "MANIQA (KonIQ-10k), ViT-B/8 + transposed attention"),
    "clipiqa": ("clipiqa", "RN50.pt", 224, f"CLIP-IQA, OpenAI CLIP RN50 without positional embedding, "
                                           f"5 antonym prompt pairs ({CLIPIQA_PROMPTS})"),
}
# pyiqa options that differ from create_metric's defaults, and why (module docstring)
BUILD_OPTIONS = {"maniqa": {"test_sample": 1}}


def _pyiqa():
    try:
        import pyiqa
    except ImportError:
        from ultrabench.errors import UsageError

        raise UsageError(MISSING) from None
    return pyiqa


@contextlib.contextmanager
def _timm_without_downloads():
    """timm.create_model with pretrained=False while pyiqa builds a model whose checkpoint replaces
    every backbone weight anyway."""
    try:
        import timm
    except ImportError:
        yield
        return
    create = timm.create_model

    def offline(name, pretrained=False, **kw):
        return create(name, pretrained=False, **kw)

    timm.create_model = offline
    try:
        yield
    finally:
        timm.create_model = create


def _create(pyiqa, name: str, device, **kw):
    """pyiqa.create_metric, with a failure (a missing dependency of pyiqa's, a file it cannot read)
    as one line."""
    try:
        with _timm_without_downloads():
            return pyiqa.create_metric(name, device=device, **BUILD_OPTIONS.get(name, {}), **kw)
    except Exception as e:
        from ultrabench.errors import UsageError

        if isinstance(e, ImportError) and "pkg_resources" in str(e):
            raise UsageError(f"pyiqa could not build {name}: {NO_PKG_RESOURCES}") from None
        first = (str(e).splitlines() or [""])[0][:200]
        raise UsageError(f"pyiqa could not build {name}: {type(e).__name__}: {first}") from None


def _m(name, display, description):
    model, _, tile, _ = MODELS[name]
    return Metric(name, display, True, "per_image", f"{tile}x{tile} native tiles covering the image",
                  description=description, extractor="iqa", view="tiles", feature="q", licence=NON_COMMERCIAL,
                  extractor_options=(("iqa_model", name),))


def clip_rn50_standin(cache_dir, seed: int = 0):
    """OpenAI CLIP RN50's architecture (pyiqa's copy of it) with seeded random weights, saved as a
    TorchScript archive like OpenAI's RN50.pt, so the stand-in goes through pyiqa's own loader."""
    import warnings
    from pathlib import Path

    import torch
    from pyiqa.archs.clip_model import CLIP

    path = Path(cache_dir) / f"clip-rn50-random-seed{seed}.pt"
    if path.exists():
        return path
    torch.manual_seed(seed)
    clip = CLIP(1024, 224, (3, 4, 6, 3), 64, None, 77, 49408, 512, 8, 12).eval()

    class Weights(torch.nn.Module):  # the archive holds CLIP's state dict; pyiqa reads nothing else
        def __init__(self):
            super().__init__()
            for k, v in clip.named_children():
                self.add_module(k, v)
            for k, v in clip.named_parameters(recurse=False):
                self.register_parameter(k, v)

        def forward(self, x):
            return self.logit_scale * x

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        torch.jit.save(torch.jit.trace(Weights(), torch.ones(1)), str(tmp))
    tmp.replace(path)
    return path


class PyIQA(FeatureExtractor):
    name = "iqa"
    description = "pyiqa no-reference quality models on native-resolution tiles (optional extra ultrabench[iqa])"
    options_used = ("iqa_model",)
    metrics = (
        _m("musiq", "MUSIQ", "MUSIQ-KonIQ quality, mean over 512x512 native tiles"),
        _m("maniqa", "MANIQA", "MANIQA-KonIQ quality, mean over 224x224 native tiles"),
        _m("clipiqa", "CLIP-IQA", "CLIP-IQA quality (0..1), mean over 224x224 native tiles"),
    )

    def __init__(self, options=None):
        super().__init__({"iqa_model": "musiq", **(options or {})})

    @property
    def model(self) -> tuple:
        return MODELS[self.options["iqa_model"]]

    def views(self, net=None):
        from ultrabench.scoring.views import View

        return {"tiles": View.of("tiles-native", size=self.model[2])}

    def weight_files(self):
        from ultrabench.weights import WeightFile, torch_hub_checkpoints

        name, fname = self.options["iqa_model"], self.model[1]
        if name == "clipiqa":  # published by OpenAI, kept by pyiqa under torch hub's clip/, by openai-clip in ~/.cache/clip
            return [WeightFile("openai/CLIP", fname, role="iqa-clipiqa", size_hint="244 MB", url=CLIP_RN50_URL,
                               elsewhere=(str(torch_hub_checkpoints().parent / "clip" / fname), f"~/.cache/clip/{fname}"))]
        return [WeightFile(WEIGHTS_REPO, fname, role=f"iqa-{name}")]

    def _net(self, metric, device, random_weights, sha):
        name, fname, tile, words = self.model
        return Net(metric, f"pyiqa:{name}", sha, random_weights,
                   {"input": f"{tile}x{tile} native tiles, RGB in [0, 1]", "model": words,
                    "per_image": "mean over the tiles"}, device=device)

    def _build(self, path, device, random_weights: bool):
        """The network from one local file: CLIP-IQA's backbone archive, or the checkpoint the others
        load strictly, as create_metric's default download would."""
        pyiqa = _pyiqa()
        name = self.model[0]
        if name == "clipiqa":
            return _create(pyiqa, name, device, backbone=str(path))
        if random_weights:
            import torch

            torch.manual_seed(0)
        metric = _create(pyiqa, name, device, pretrained=False)
        if random_weights:
            return metric
        from pyiqa.archs.arch_util import load_pretrained_network

        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its "Loading pretrained model ..." print
                load_pretrained_network(metric.net, str(path), True)
        except Exception as e:
            from ultrabench.errors import UsageError

            first = (str(e).splitlines() or [""])[0][:200]
            raise UsageError(f"{path} is not a {name} checkpoint pyiqa can load: {type(e).__name__}: {first}") from None
        return metric

    def load(self, resolver, device):
        from ultrabench.metrics.extractors._common import path_sha256

        (path,) = [resolver.resolve(wf) for wf in self.weight_files()]  # one line naming the file when missing
        return self._net(self._build(path, device, False), device, False, path_sha256(path))

    def standin(self, cache_dir, device):
        """pyiqa's architecture with seeded random weights; CLIP-IQA's random RN50 goes through
        pyiqa's own backbone loader."""
        _pyiqa()
        path = clip_rn50_standin(cache_dir) if self.model[0] == "clipiqa" else None
        return self._net(self._build(path, device, True), device, True, "random")

    def forward(self, net, role, rows):
        import numpy as np
        import torch

        x = torch.from_numpy(np.stack(rows)).permute(0, 3, 1, 2).float().div(255.0).to(net.device)
        with torch.inference_mode():
            q = net.model(x)
        return {"q": q.reshape(len(rows), -1)[:, :1].double().cpu().numpy()}

    def per_image(self, net, metric, feats, prompts):
        return mean_per_image(feats["q"].reshape(-1), len(prompts))

    def protocol(self, metric):
        name, fname, tile, words = MODELS[metric.name]
        out = {"version": f"{metric.name}@pyiqa-tiles{tile}-v1", "model": words, "weights": fname,
               "tiles": "crops.tile_grid: ceil(H/t) x ceil(W/t) tiles, first at 0, last flush with the far edge",
               "per_image": "mean of the tile scores", "licence": NON_COMMERCIAL}
        if metric.name == "maniqa":
            out["crops"] = "one 224 crop per tile (pyiqa's 20 are identical on a 224 tile: same score)"
        return out
