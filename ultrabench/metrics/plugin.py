"""What a metric plugin declares: a feature extractor and the metrics computed from its features.

A `FeatureExtractor` subclass is the whole contract between a metric and the one-pass engine:

- `views()`: the decoded views it consumes, by role (`{"full": View("resize-clean"), ...}`); the
  decode workers make each distinct view once per image;
- `weight_files()`, `load()`, `standin()`: where its weights are, how to build the network from
  them, and a random-weight twin of the real architecture for tests and the demo; `weights list`,
  `doctor` and `run.json` provenance read these, with no code of their own per extractor;
- `forward()`: batched rows of one view -> named feature arrays, which the engine caches by image
  content, network weights and protocol;
- `metrics`: each `Metric` with pyiqa-style metadata and the statistic computed from the cached
  features (`ultrabench.metrics.statistics`), or `per_image()` for per-image scores;
- `protocol()`: the words and version of what it computes, written into `summary.json`.

Declarations import nothing heavy at module level, so `ultrabench metrics` and spec validation
stay fast; torch and model code load inside `load()`/`standin()`. Built-in plugins live in
`ultrabench/metrics/plugins/`, one module each; other packages register theirs through the
`ultrabench.metrics` entry-point group (`ultrabench.metrics.registry`).

A *derived* extractor (`source = "clip"`) runs on another extractor's cached features instead of
pixels, e.g. the LAION aesthetic head on CLIP ViT-L/14 image embeddings: when CLIP score uses the
same CLIP, both share one image forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ultrabench.scoring.views import View
    from ultrabench.weights import WeightFile, WeightResolver

# The scoring options an extractor may depend on, with their defaults (the spec and the CLI take
# theirs from ultrabench.config; these are the API's).
DEFAULT_OPTIONS: dict[str, Any] = {
    "patch_crops": 3,
    "crop_seed": 0,
    "clip_model": ("ViT-L-14", "openai"),
    "codec": "png",
}


@dataclass(frozen=True)
class Metric:
    name: str  # registry name used in specs, CLI and score files
    display_name: str  # column header, the paper's spelling
    higher_is_better: bool
    kind: str  # "set" (one value per image set) or "per_image" (mean over images)
    input_size: str  # what the network sees, for the report's footnotes
    needs_reference: bool = False
    needs_prompt: bool = False
    paper: bool = False  # a column of the paper's Table 1
    description: str = ""
    value_range: tuple[float | None, float | None] | None = None  # None: unbounded / not stated
    extractor: str = ""  # the FeatureExtractor.name it is computed from
    view: str = ""  # the extractor's view role
    feature: str = ""  # which array of the extractor's output
    statistic: str = "mean"  # set metrics: a name in ultrabench.metrics.statistics
    preference: bool = False  # a preference model: win rates on matched (prompt id, sample index) pairs
    extractor_options: tuple[tuple[str, Any], ...] = ()  # options pinned for this metric's extractor
    licence: str = ""  # of the weights, where it restricts use (e.g. "non-commercial")
    decimals: int = 2  # shown in tables

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def column(self) -> str:
        """Its column in per_image.parquet."""
        return self.name.replace("-", "_").replace(".", "_")

    @property
    def set_level(self) -> bool:
        return self.kind == "set"


# The pre-registry name of the metadata class; reports and tests still import it.
MetricInfo = Metric


@dataclass
class Net:
    """A loaded network and its provenance; `model` is whatever the extractor's `forward` expects."""

    model: Any
    id: str
    weights_sha256: str
    random_weights: bool = False
    details: dict = field(default_factory=dict)  # preprocessing and score formula, in words
    device: Any = "cpu"

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                **self.details}

    @property
    def calls(self) -> int:  # images forwarded, for tests of the cache
        return int(getattr(self.model, "calls", 0))


class FeatureExtractor:
    """Base of every extractor declaration. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[str] = "v1"  # bump when the features change for the same weights and view
    metrics: ClassVar[tuple[Metric, ...]] = ()
    options_used: ClassVar[tuple[str, ...]] = ()  # DEFAULT_OPTIONS keys this extractor depends on
    source: ClassVar[str | None] = None  # derived extractors: the extractor whose features they read
    source_role: ClassVar[str] = "full"
    # prompt-conditioned features (ImageReward's cross-attention): `forward` gets (view row, prompt)
    # pairs and the cache keys each image's features by its prompt too
    prompted: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = {**DEFAULT_OPTIONS, **(options or {})}
        self.options = {k: opts[k] for k in self.options_used}

    @property
    def key(self) -> str:
        """Identity of this declaration with its options: equal keys share one network and forward."""
        if not self.options:
            return self.name
        return self.name + "[" + ",".join(f"{k}={self.options[k]}" for k in sorted(self.options)) + "]"

    def source_options(self) -> dict[str, Any]:
        """Options of the source extractor of a derived extractor."""
        return dict(self.options)

    # -- declarations ------------------------------------------------------------------------------
    def views(self, net: Net | None = None) -> dict[str, "View"]:
        """Role -> view. Called with the loaded network when its input size depends on the weights."""
        return {}

    def weight_files(self) -> list["WeightFile"]:
        return []

    def protocol(self, metric: Metric) -> dict:
        return {"version": f"{metric.name}@{self.version}"}

    # -- work --------------------------------------------------------------------------------------
    def load(self, resolver: "WeightResolver", device: str) -> Net:
        raise NotImplementedError

    def standin(self, cache_dir, device: str) -> Net:
        raise NotImplementedError

    def forward(self, net: Net, role: str, rows: list) -> dict[str, "np.ndarray"]:
        """Rows of one view (or, for a derived extractor, rows of the source's features) -> arrays
        whose first axis is the row."""
        raise NotImplementedError

    def per_image(self, net: Net, metric: Metric, feats: dict[str, "np.ndarray"], prompts: list[str]) -> "np.ndarray":
        """One value per image from stacked cached features (rows = images, in `prompts` order).
        Default: the feature itself (a scalar per image)."""
        return feats[metric.feature].reshape(len(prompts), -1)[:, 0].astype("float64")

    def prompt_flags(self, net: Net, prompt: str) -> list[str]:
        """Flags this extractor raises for a prompt (e.g. truncated to the text context)."""
        return []


class TextImageExtractor(FeatureExtractor):
    """An image-text scorer with separate towers (CLIP score, PickScore, HPS, ...): the image
    embedding is cached per image, the text embedding computed per prompt, and the per-image score is
    `scorer.score(image_emb, text_emb)`. `net.model` is the scorer object: `image_embeddings(rows)`,
    `text_embeddings(texts)`, `score(img, txt)`, `truncated(text)`, `image_size`, `info()`."""

    text_batch: ClassVar[int] = 16

    def views(self, net: Net | None = None):
        from ultrabench.scoring.views import View

        # the short side goes to the network's input size; the scorer centre-crops it
        size = getattr(net.model, "image_size", 224) if net is not None else 224
        return {"full": View.of("short-side", size=int(size))}

    @staticmethod
    def wrap(scorer) -> Net:
        info = scorer.info()
        return Net(scorer, scorer.id, scorer.weights_sha256, scorer.random_weights,
                   {k: v for k, v in info.items() if k not in ("id", "weights_sha256", "random_weights")},
                   device=getattr(scorer, "device", "cpu"))

    def forward(self, net, role, rows):
        return {"emb": net.model.image_embeddings(rows)}

    def per_image(self, net, metric, feats, prompts):
        import numpy as np

        emb = feats["emb"].reshape(len(prompts), -1)
        out = np.empty(len(prompts))
        for s in range(0, len(prompts), self.text_batch):
            te = net.model.text_embeddings(prompts[s:s + self.text_batch])
            out[s:s + self.text_batch] = net.model.score(emb[s:s + self.text_batch], te)
        return out

    def prompt_flags(self, net, prompt):
        return ["prompt_truncated"] if net.model.truncated(prompt) else []
