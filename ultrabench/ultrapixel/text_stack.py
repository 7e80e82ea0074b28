"""The text stack the official script uses, and the check that a tokenizer folder encodes like it.

The official `WurstCore` loads tokenizer and text model from LAION's CLIP ViT-bigG-14 repository and
tokenizes with `padding="max_length", max_length=tokenizer.model_max_length`. All 77 positions feed
Stage C, so the padding token matters as much as the words: LAION's tokenizer pads with "!" (id 0),
OpenAI-style CLIP tokenizers (and the copy in `stabilityai/stable-cascade`) pad with the end token
(49407), which changes every conditioning. A folder is therefore accepted only if it turns a fixed
set of probe prompts into exactly the ids below.

The expected ids are those of the CLIP byte-pair vocabulary (the same merge list for OpenAI's and
LAION's models; `ultrabench.tiny.tokenizer` rebuilds it offline from open_clip's copy) with LAION's
special tokens: start 49406, end 49407, pad 0. The probes are plain ASCII so that every
implementation of the same tokenizer (fast or slow, with or without ftfy) agrees on them.
"""

from __future__ import annotations

from typing import Sequence

from ultrabench.errors import UltrabenchError

OFFICIAL_TEXT_REPO = "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"
CONTEXT_LENGTH = 77
START, END, PAD = 49406, 49407, 0

# (prompt, ids up to and including the end token); every later position must be PAD.
PROBES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("", (START, END)),  # the unconditional branch
    (
        # the official script's default prompt
        "A photo-realistic image of a west highland white terrier in the garden, high quality, detail rich, 8K",
        (START, 320, 1125, 268, 16157, 2867, 539, 320, 1593, 16062, 1579, 14455, 530, 518, 2756, 267, 1400, 3027,
         267, 7657, 4021, 267, 279, 330, END),
    ),
    (
        "Ultra-HD 4096x4096 photo: a RED fox, in snow (at dusk); 35mm & f/1.8?",
        (START, 8118, 268, 4414, 275, 271, 280, 277, 343, 275, 271, 280, 277, 1125, 281, 320, 736, 3240, 267, 530,
         2583, 263, 536, 19708, 19686, 274, 276, 2848, 261, 325, 270, 272, 269, 279, 286, END),
    ),
    # longer than the context: truncated to 75 words + the end token, no padding
    (" ".join(["stars"] * 90), (START,) + (2895,) * 75 + (END,)),
)


class TokenizerMismatchError(UltrabenchError):
    """A tokenizer folder does not encode like the official one."""


def expected_ids(ids: Sequence[int]) -> list[int]:
    return list(ids) + [PAD] * (CONTEXT_LENGTH - len(ids))


def check_tokenizer(tokenizer, where: str) -> None:
    """Raise one line unless `tokenizer` pads and encodes the probe prompts as the official one does."""
    length = getattr(tokenizer, "model_max_length", None)
    if length != CONTEXT_LENGTH:
        raise TokenizerMismatchError(
            f"tokenizer at {where}: model_max_length is {length}, the official {OFFICIAL_TEXT_REPO} "
            f"tokenizer pads to {CONTEXT_LENGTH}; use that repository's tokenizer files")
    for prompt, ids in PROBES:
        got = list(tokenizer(prompt, padding="max_length", max_length=length, truncation=True)["input_ids"])
        want = expected_ids(ids)
        if got != want:
            pos = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            shown = repr(prompt if len(prompt) <= 30 else prompt[:27] + "...")
            raise TokenizerMismatchError(
                f"tokenizer at {where} encodes {shown} differently from the official {OFFICIAL_TEXT_REPO} "
                f"tokenizer (position {pos}: {got[pos] if pos < len(got) else 'none'} instead of "
                f"{want[pos] if pos < len(want) else 'none'}{', a padding position' if pos >= len(ids) else ''}); "
                f"use that repository's tokenizer files")
