"""A real CLIP BPE tokenizer built offline from the vocabulary file that open_clip ships.

open_clip's `bpe_simple_vocab_16e6.txt.gz` is the same merge list as OpenAI CLIP's, so writing it
out as `vocab.json` + `merges.txt` gives a `transformers.CLIPTokenizer` identical to the hub's
`openai/clip-vit-large-patch14` tokenizer without any download.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

# CLIP uses the first 49152 - 256 - 2 merges of the file (the rest were never trained on).
_N_MERGES = 49152 - 256 - 2


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP byte-level alphabet: printable bytes map to themselves, the rest to 256+ code points.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _bpe_file() -> Path:
    """open_clip's merge list, found without importing open_clip (which imports torch)."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        from ultrabench.errors import UltrabenchError

        raise UltrabenchError("open_clip is not installed; its vocabulary file builds the stand-in CLIP tokenizer")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def write_clip_tokenizer_files(folder: str | Path, n_merges: int = _N_MERGES, pad_token: str = "<|endoftext|>") -> Path:
    """Write `vocab.json`, `merges.txt` and the tokenizer config into `folder`; return it.

    A smaller `n_merges` gives a smaller vocabulary (256 * 2 + n_merges + 2) for tiny test models.
    `pad_token`: OpenAI's CLIP tokenizers pad with the end token; LAION's (CLIP-ViT-bigG-14, SDXL's
    second tokenizer) pad with "!" (id 0).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(_bpe_file()).read().decode("utf-8").split("\n")
    merges = lines[1 : min(n_merges, _N_MERGES) + 1]
    byte_chars = list(_bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": 77,
                "bos_token": "<|startoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "pad_token": pad_token,
                "do_lower_case": True,
            }
        )
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad_token})
    )
    return folder


_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
_FORMAT = 1  # bump when the files written above change


@lru_cache(maxsize=None)
def _cached_folder(n_merges: int = _N_MERGES) -> Path:
    """The tokenizer files, built once into ultrabench's cache and shared by every process.

    Built in a temporary folder beside the final one and renamed into place, so a concurrent
    builder never sees half a folder. Where the cache cannot be written, the files go to a
    temporary folder that is removed when the process exits: nothing outlives its maker.
    """
    import atexit
    import shutil
    import tempfile

    from ultrabench.weights import cache_root

    final = cache_root() / "tokenizers" / f"clip-bpe-{n_merges}-v{_FORMAT}"
    if all((final / f).is_file() for f in _FILES):
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    except OSError:
        tmp = Path(tempfile.mkdtemp(prefix="ultrabench-clip-tok-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        return write_clip_tokenizer_files(tmp, n_merges)
    try:
        write_clip_tokenizer_files(tmp, n_merges)
        try:
            tmp.rename(final)
        except OSError:  # another process finished first (or a broken folder is in the way)
            if not all((final / f).is_file() for f in _FILES):
                shutil.rmtree(final, ignore_errors=True)
                tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_clip_tokenizer(folder: str | Path | None = None, n_merges: int = _N_MERGES):
    """A `transformers.CLIPTokenizer` (77 tokens; vocabulary 49408 with all merges) built offline.

    With `folder`, the files are written there (the caller owns it); otherwise they come from
    ultrabench's cache.
    """
    from transformers import CLIPTokenizer

    path = write_clip_tokenizer_files(folder, n_merges) if folder is not None else _cached_folder(n_merges)
    return CLIPTokenizer.from_pretrained(str(path))
