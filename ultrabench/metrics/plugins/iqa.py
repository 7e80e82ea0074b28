"""No-reference image quality on tiles covering the whole image at native pixels: MUSIQ, MANIQA and
CLIP-IQA through pyiqa (`pip install 'ultrabench[iqa]'`), whose weight files are read from the local
hub cache (chaofengc/IQA-PyTorch-Weights), never downloaded by a score.

Per image: the mean of the model's score over the tiles of `ultrabench.metrics.crops.tile_grid`
(ceil(H/t) x ceil(W/t) tiles of t x t pixels spread edge to edge); the tile boxes are stored in
per_image.parquet's `crops` column like every crop. pyiqa itself is licensed PolyForm Noncommercial
1.0.0 (and S-Lab License 1.0), so these scores are for non-commercial use.
"""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net, mean_per_image

WEIGHTS_REPO = "chaofengc/IQA-PyTorch-Weights"
NON_COMMERCIAL = "non-commercial (pyiqa: PolyForm Noncommercial 1.0.0; S-Lab License 1.0)"
MISSING = "pyiqa is not installed: `pip install 'ultrabench[iqa]'` adds it for musiq, maniqa and clipiqa"
# metric -> (pyiqa metric name, weight file in WEIGHTS_REPO or None, tile side, what the tile score is)
MODELS = {
    "musiq": ("musiq", "musiq_koniq_ckpt-e95806b9.pth", 512, "MUSIQ (KonIQ-10k head), multi-scale ViT"),
    "maniqa": ("maniqa", "ckpt_koniq10k.pt", 224, "MANIQA (KonIQ-10k), ViT-B/8 + transposed attention"),
    "clipiqa": ("clipiqa", None, 224, "CLIP-IQA, CLIP RN50 antonym prompts ('Good photo.' vs 'Bad photo.')"),
}


def _pyiqa():
    try:
        import pyiqa
    except ImportError:
        from ultrabench.errors import UsageError

        raise UsageError(MISSING) from None
    return pyiqa


def _create(pyiqa, name: str, device, **kw):
    """pyiqa.create_metric, with a failure (a backbone missing from the local caches, a missing
    dependency of pyiqa's) as one line."""
    try:
        return pyiqa.create_metric(name, device=device, **kw)
    except Exception as e:
        from ultrabench.errors import UsageError

        first = (str(e).splitlines() or [""])[0][:200]
        raise UsageError(f"pyiqa could not build {name}: {type(e).__name__}: {first}") from None


def _m(name, display, description):
    model, _, tile, _ = MODELS[name]
    return Metric(name, display, True, "per_image", f"{tile}x{tile} native tiles covering the image",
                  description=description, extractor="iqa", view="tiles", feature="q", licence=NON_COMMERCIAL,
                  extractor_options=(("iqa_model", name),))


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
        from ultrabench.weights import WeightFile

        fname = self.model[1]
        return [WeightFile(WEIGHTS_REPO, fname, role=f"iqa-{self.options['iqa_model']}")] if fname else []

    def _net(self, metric, device, random_weights, sha):
        name, fname, tile, words = self.model
        return Net(metric, f"pyiqa:{name}", sha, random_weights,
                   {"input": f"{tile}x{tile} native tiles, RGB in [0, 1]", "model": words,
                    "per_image": "mean over the tiles"}, device=device)

    def load(self, resolver, device):
        pyiqa = _pyiqa()
        from ultrabench.metrics.extractors._common import path_sha256

        files = [resolver.resolve(wf) for wf in self.weight_files()]  # one line naming the file when missing
        kw = {"pretrained_model_path": str(files[0])} if files else {}
        metric = _create(pyiqa, self.model[0], device, **kw)
        return self._net(metric, device, False, path_sha256(files[0]) if files else "pyiqa-builtin")

    def standin(self, cache_dir, device):
        """pyiqa's architecture with seeded random weights (pretrained=False); MANIQA's and CLIP-IQA's
        constructors still read their backbones (timm ViT-B/8, CLIP RN50) from the local caches."""
        pyiqa = _pyiqa()
        import torch

        torch.manual_seed(0)
        return self._net(_create(pyiqa, self.model[0], device, pretrained=False), device, True, "random")

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
        return {"version": f"{metric.name}@pyiqa-tiles{tile}-v1", "model": words, "weights": fname or "pyiqa built-in",
                "tiles": "crops.tile_grid: ceil(H/t) x ceil(W/t) tiles, first at 0, last flush with the far edge",
                "per_image": "mean of the tile scores", "licence": NON_COMMERCIAL}
