"""ImageReward v1.0 (Xu et al., NeurIPS 2023) rebuilt on transformers' BLIP building blocks.

The reference scorer (THUDM/ImageReward, `ImageReward/ImageReward.py`, `models/BLIP/*`) is BLIP's
ViT-L/16 at 224 px (24 blocks of width 1024, 16 heads, fused qkv with bias, exact GELU, LayerNorm
eps 1e-6, final norm) feeding a BERT-base text encoder (`med_config.json`: 12 layers, width 768, no
token-type embeddings) whose every layer cross-attends to all 197 image tokens. The prompt is
tokenised by `bert-base-uncased` (plus BLIP's added [DEC] and [ENC] tokens), padded and cut to 35
tokens; the encoder's output at the first ([CLS]) position goes through a head of five linear layers
1024-128-64-16-1 with no activation between them (the ReLUs are commented out in the reference), and
the reward is (head - 0.16717362830052426) / 1.0333394966054072.

transformers' `BlipVisionModel` and `BlipTextModel` are ports of the same BLIP code: the vision side
differs only in parameter names, the text side not at all. So the checkpoint maps by renaming
(`checkpoint_key_map`). ImageReward.pt is the reference model's `state_dict()`: `blip.visual_encoder.*`,
`blip.text_encoder.*`, `mlp.layers.{0,2,4,6,7}.*`, plus BLIP's contrastive projections
`blip.vision_proj` / `blip.text_proj`, which the reward never uses (they are checked and dropped),
and the text encoder's `position_ids` buffer, which newer code no longer saves (checked equal to
0..n-1 when present). Any other difference is an error: the reference loads with strict=False, which
would score with random weights for any key it misses.

Image input: short side 224 (PIL bicubic), centre crop 224 with torchvision's rounding, OpenAI
mean/std: the reference's torchvision transform on a PIL image. float32 throughout, as the reference.

The reward is not a function of two separate embeddings (the text encoder attends to the image), so
`image_features` returns the ViT's output tokens (n, 197, 1024, float32: 0.8 MB an image) and
`text_features` the padded token ids and mask (n, 2, 35); `score` runs the text encoder and head.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ultrabench.metrics.extractors._checkpoint import digest_of_files, key_mismatch
from ultrabench.metrics.extractors._resolve import resolve_first
from ultrabench.metrics.extractors._common import OPENAI_MEAN, OPENAI_STD, EmbeddingScorer
from ultrabench.metrics.extractors.clip import ClipScorer

HUB_REPO = "THUDM/ImageReward"
CHECKPOINT = "ImageReward.pt"
MED_CONFIG = "med_config.json"
# ImageReward asks transformers for 'bert-base-uncased', now served as google-bert/bert-base-uncased
TOKENIZER_REPOS = ("google-bert/bert-base-uncased", "bert-base-uncased")
PROMPT_TOKENS = 35
REWARD_MEAN = 0.16717362830052426
REWARD_STD = 1.0333394966054072
IMAGE_SIZE = 224
VIEW = ("short-side", {"size": IMAGE_SIZE})
HEAD_WIDTHS = (1024, 128, 64, 16, 1)
HEAD_SOURCE_INDEX = (0, 2, 4, 6, 7)  # positions of the linear layers in the reference's nn.Sequential

# BLIP's create_vit('large', 224); not in med_config.json, fixed by the reference code
VISION_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
                "patch_size": 16, "image_size": IMAGE_SIZE}
STANDIN_VISION = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256,
                  "patch_size": 16, "image_size": IMAGE_SIZE}
STANDIN_MED = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
               "hidden_dropout_prob": 0.1, "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 128,
               "layer_norm_eps": 1e-12, "max_position_embeddings": 64, "model_type": "bert", "num_attention_heads": 2,
               "num_hidden_layers": 2, "pad_token_id": 0, "type_vocab_size": 2, "encoder_width": 64,
               "add_cross_attention": True}

_VISION_RENAMES = (  # reference ViT names -> transformers BlipVisionModel names
    ("cls_token", "embeddings.class_embedding"),
    ("pos_embed", "embeddings.position_embedding"),
    ("patch_embed.proj.", "embeddings.patch_embedding."),
    ("norm.", "post_layernorm."),
    ("blocks.", "encoder.layers."),
)
_BLOCK_RENAMES = ((".norm1.", ".layer_norm1."), (".norm2.", ".layer_norm2."), (".attn.qkv.", ".self_attn.qkv."),
                  (".attn.proj.", ".self_attn.projection."))
UNUSED_PREFIXES = ("blip.vision_proj.", "blip.text_proj.")  # BLIP's contrastive heads: not part of the reward
POSITION_IDS = "blip.text_encoder.embeddings.position_ids"


def weight_files():
    """Checkpoint, text-encoder config, tokenizer vocabulary; the two tokenizer entries are alternatives."""
    from ultrabench.weights import WeightFile

    return [WeightFile(HUB_REPO, CHECKPOINT, role="imagereward", size_hint="about 1.8 GB"),
            WeightFile(HUB_REPO, MED_CONFIG, role="imagereward_med_config"),
            *(WeightFile(r, "vocab.txt", role="imagereward_tokenizer") for r in TOKENIZER_REPOS)]


def text_config(med: dict, encoder_width: int):
    """transformers' BlipTextConfig for a BLIP med_config.json; refuses what BlipTextModel lacks."""
    from transformers import BlipTextConfig

    from ultrabench.errors import UsageError

    if not med.get("add_cross_attention") or med.get("position_embedding_type", "absolute") != "absolute":
        raise UsageError("med_config.json describes no BLIP text encoder with cross-attention and absolute positions")
    # is_decoder=True only makes BlipTextModel build its cross-attention layers; it runs bidirectionally
    return BlipTextConfig(vocab_size=med["vocab_size"], hidden_size=med["hidden_size"],
                          intermediate_size=med["intermediate_size"], num_hidden_layers=med["num_hidden_layers"],
                          num_attention_heads=med["num_attention_heads"],
                          max_position_embeddings=med["max_position_embeddings"], hidden_act=med["hidden_act"],
                          layer_norm_eps=med["layer_norm_eps"], pad_token_id=med.get("pad_token_id", 0),
                          encoder_hidden_size=encoder_width, is_decoder=True,
                          bos_token_id=med["vocab_size"] - 2)  # [DEC], the first token BLIP adds


class ImageRewardModel(nn.Module):
    def __init__(self, vision: dict, med: dict):
        from transformers import BlipTextModel, BlipVisionConfig, BlipVisionModel

        super().__init__()
        self.vision = BlipVisionModel(BlipVisionConfig(**vision, hidden_act="gelu", layer_norm_eps=1e-6))
        self.text = BlipTextModel(text_config(med, vision["hidden_size"]), add_pooling_layer=False)
        widths = (med["hidden_size"], *HEAD_WIDTHS)
        self.head = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])))

    def image_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vision(pixel_values=pixels).last_hidden_state

    def rewards(self, image_tokens: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        image_mask = torch.ones(image_tokens.shape[:2], dtype=torch.long, device=image_tokens.device)
        out = self.text(input_ids=ids, attention_mask=mask, encoder_hidden_states=image_tokens,
                        encoder_attention_mask=image_mask, is_decoder=False)
        return (self.head(out.last_hidden_state[:, 0].float())[:, 0] - REWARD_MEAN) / REWARD_STD


def checkpoint_key_map(source_keys) -> dict[str, str]:
    """ImageReward.pt key -> ImageRewardModel key, for the keys that map; others are left out."""
    out: dict[str, str] = {}
    for k in source_keys:
        if k.startswith("blip.visual_encoder."):
            rest = k[len("blip.visual_encoder."):]
            for old, new in _VISION_RENAMES:
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            for old, new in _BLOCK_RENAMES:
                rest = rest.replace(old, new)
            out[k] = "vision." + rest
        elif k.startswith("blip.text_encoder."):
            out[k] = "text." + k[len("blip.text_encoder."):]
        elif k.startswith("mlp.layers."):
            idx, _, rest = k[len("mlp.layers."):].partition(".")
            if idx.isdigit() and int(idx) in HEAD_SOURCE_INDEX:
                out[k] = f"head.{HEAD_SOURCE_INDEX.index(int(idx))}.{rest}"
    return out


def convert_checkpoint(source: dict, model: ImageRewardModel, where="checkpoint") -> dict:
    """The model's state dict from ImageReward.pt's, strictly: every tensor consumed, none missing.

    Problems are named in the file's own key names.
    """
    from ultrabench.errors import UsageError

    wanted = checkpoint_key_map(reference_names(model))
    target = model.state_dict()
    if set(wanted.values()) != set(target):  # a transformers release that renamed BLIP's modules
        raise RuntimeError("ImageReward key map out of date with transformers' BLIP: "
                           f"{sorted(set(target) ^ set(wanted.values()))[:3]}")
    kept = {k: v for k, v in source.items() if not (k.startswith(UNUSED_PREFIXES) or k == POSITION_IDS)}
    problem = key_mismatch({src: target[dst] for src, dst in wanted.items()}, kept)
    if problem:
        raise UsageError(f"{where} is not an ImageReward checkpoint: {problem}")
    for prefix in UNUSED_PREFIXES:  # unused, but part of the file's layout: their absence means another file
        if not any(k.startswith(prefix) for k in source):
            raise UsageError(f"{where} is not an ImageReward checkpoint: it lacks {prefix}*")
    if POSITION_IDS in source:
        ids = source[POSITION_IDS]
        if not torch.equal(ids.reshape(-1).long(), torch.arange(ids.numel())):
            raise UsageError(f"{where} is not an ImageReward checkpoint: {POSITION_IDS} is not 0..n-1")
    return {dst: source[src] for src, dst in wanted.items()}


def bert_tokenizer(vocab_path: str | Path):
    """bert-base-uncased's tokenizer from its vocab.txt, with BLIP's added [DEC] and [ENC] tokens."""
    import inspect

    from transformers import BertTokenizer
    from transformers.models.bert.tokenization_bert import load_vocab

    # transformers 5's BertTokenizer takes the vocabulary as a dict and silently ignores vocab_file
    if "vocab" in inspect.signature(BertTokenizer.__init__).parameters:
        tok = BertTokenizer(vocab=dict(load_vocab(str(vocab_path))), do_lower_case=True)
    else:
        tok = BertTokenizer(vocab_file=str(vocab_path), do_lower_case=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tok


def standin_files(cache_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Random ImageReward laid out like the hub's: ImageReward.pt (reference key names), med_config.json, vocab.txt."""
    d = Path(cache_dir) / f"standin-imagereward-tiny-seed{seed}"
    files = {"checkpoint": d / CHECKPOINT, "med_config": d / MED_CONFIG, "vocab": d / "vocab.txt"}
    if all(p.is_file() for p in files.values()):
        return files
    from ultrabench.metrics.extractors.inception import _write_state_dict

    d.mkdir(parents=True, exist_ok=True)
    vocab = _standin_vocab()
    med = {**STANDIN_MED, "vocab_size": len(vocab) + 2}  # + [DEC], [ENC], as 30522 + 2 = 30524 in the real one
    files["vocab"].write_text("\n".join(vocab) + "\n", encoding="utf-8")
    files["med_config"].write_text(json.dumps(med, indent=2) + "\n")
    torch.manual_seed(seed)
    model = ImageRewardModel(STANDIN_VISION, med)
    # transformers initialises BLIP's patch embedding with std 1e-10, which makes a random image tower
    # blind to the image; these scales let the image and the prompt both move the stand-in's reward
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight, std=m.weight[0].numel() ** -0.5)
            nn.init.normal_(m.bias, std=0.1)
    emb = model.vision.embeddings
    nn.init.normal_(emb.position_embedding, std=0.02)
    nn.init.normal_(emb.class_embedding, std=0.02)
    inverse = {new: old for old, new in checkpoint_key_map(reference_names(model)).items()}
    sd = {inverse[k]: v for k, v in model.state_dict().items()}
    width, text_width = STANDIN_VISION["hidden_size"], med["hidden_size"]
    for name, fan_in in (("vision_proj", width), ("text_proj", text_width)):
        sd[f"blip.{name}.weight"] = torch.randn(256, fan_in) * fan_in ** -0.5
        sd[f"blip.{name}.bias"] = torch.zeros(256)
    sd[POSITION_IDS] = torch.arange(med["max_position_embeddings"]).expand((1, -1))
    _write_state_dict(sd, files["checkpoint"])
    return files


def reference_names(model: ImageRewardModel) -> list[str]:
    """ImageReward.pt's names for `model`'s tensors (tests hold them to the official model's layout)."""
    names = [f"blip.text_encoder.{k[len('text.'):]}" for k in model.state_dict() if k.startswith("text.")]
    names += [f"mlp.layers.{i}.{p}" for i in HEAD_SOURCE_INDEX for p in ("weight", "bias")]
    names += ["blip.visual_encoder." + k for k in ("cls_token", "pos_embed", "patch_embed.proj.weight",
                                                   "patch_embed.proj.bias", "norm.weight", "norm.bias")]
    for i in range(model.vision.config.num_hidden_layers):
        for part in ("norm1", "norm2", "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"):
            names += [f"blip.visual_encoder.blocks.{i}.{part}.{p}" for p in ("weight", "bias")]
    return names


def _standin_vocab() -> list[str]:
    """A small WordPiece vocabulary in bert-base-uncased's format, enough for the test prompts."""
    words = ("a an the of on in at with and to is it photo cat castle hill sunset highly detailed trending art "
             "station painting watercolor quiet town dawn boat boats red sails over water night cafe au lait "
             "quoted unicode street streets still mist majestic intricate harbour fishing gulls lantern lanterns "
             "glowing hills cobblestone").split()
    pieces = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(i) for i in range(10)]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["—", "“", "”", "東", "京"]
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + punct + pieces + ["##" + p for p in pieces]
            + sorted(set(words) - set(pieces)))


class ImageRewardScorer(EmbeddingScorer):
    def __init__(self, model: ImageRewardModel, tokenizer, device="cpu", model_id="ImageReward-v1.0", *args, **kw):
        super().__init__(model, tokenizer, device, model_id, *args, **kw)

    @classmethod
    def from_files(cls, checkpoint: str | Path, med_config: str | Path, vocab: str | Path, device="cpu",
                   vision: dict = VISION_LARGE, random_weights=False, model_id="ImageReward-v1.0"):
        from ultrabench.errors import UsageError

        try:
            med = json.loads(Path(med_config).read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read the ImageReward text-encoder config {med_config}: {e}") from e
        model = ImageRewardModel(vision, med)
        source = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        if not isinstance(source, dict):
            raise UsageError(f"{checkpoint} is not an ImageReward checkpoint: expected a state dict")
        model.load_state_dict(convert_checkpoint(source, model, checkpoint), strict=True)
        files = {"checkpoint": checkpoint, "med_config": med_config, "vocab": vocab}
        return cls(model, bert_tokenizer(vocab), device, model_id, digest_of_files(files),
                   random_weights=random_weights, mean=OPENAI_MEAN, std=OPENAI_STD, image_size=vision["image_size"])

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        f = standin_files(cache_dir)
        return cls.from_files(f["checkpoint"], f["med_config"], f["vocab"], device, vision=STANDIN_VISION,
                              random_weights=True, model_id="standin-tiny")

    @property
    def id(self) -> str:
        return f"imagereward:{self.model_id}"

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "input": f"short side {self.image_size} PIL bicubic, centre crop (torchvision rounding), "
                         "OpenAI mean/std",
                "text": f"bert-base-uncased, padded and truncated to {PROMPT_TOKENS} tokens",
                "score": f"(head(BLIP text encoder [CLS] | image) - {REWARD_MEAN}) / {REWARD_STD}",
                "precision": "float32"}

    preprocess = ClipScorer.preprocess  # the reference's torchvision transform is the CLIP score's

    @torch.inference_mode()
    def image_features(self, views: list[np.ndarray]) -> np.ndarray:
        x = self.preprocess(views).to(self.device)
        self.calls += x.shape[0]
        return self.model.image_tokens(x).float().cpu().numpy()

    def truncated(self, text: str) -> bool:
        return len(self.tokenizer(text)["input_ids"]) > PROMPT_TOKENS

    def text_features(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            enc = self.tokenizer(missing, padding="max_length", truncation=True, max_length=PROMPT_TOKENS,
                                 return_tensors="np")
            rows = np.stack([enc["input_ids"], enc["attention_mask"]], axis=1).astype(np.int64)
            self._text_cache.update(zip(missing, rows))
        return np.stack([self._text_cache[t] for t in texts])

    @torch.inference_mode()
    def score(self, img_feats: np.ndarray, txt_feats: np.ndarray, batch_size: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(img_feats), batch_size):
            tokens = torch.from_numpy(np.ascontiguousarray(img_feats[i:i + batch_size])).to(self.device)
            t = torch.from_numpy(txt_feats[i:i + batch_size]).to(self.device)
            out.append(self.model.rewards(tokens, t[:, 0], t[:, 1]).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def rewards(self, views: list[np.ndarray], prompts: list[str]) -> np.ndarray:
        """One reward per (image, prompt) row."""
        return self.score(self.image_features(views), self.text_features(prompts))


def load(resolver, device="cpu") -> ImageRewardScorer:
    ckpt, med, *tok = weight_files()  # the tokenizer vocabulary: either of two hub repos
    return ImageRewardScorer.from_files(resolver.resolve(ckpt), resolver.resolve(med), resolve_first(resolver, tok),
                                        device)
