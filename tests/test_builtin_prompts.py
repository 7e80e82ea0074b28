"""The built-in 1,000-prompt set: shape, stability, coverage and the properties the benchmark relies on."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter, defaultdict

import pytest

from ultrabench.prompts import builtin
from ultrabench.prompts.builtin import (
    BUILTIN_NAME,
    BUILTIN_VERSION,
    CATEGORIES,
    builtin_categories,
    builtin_prompts,
)

# Recompute and update together with BUILTIN_VERSION, and only on purpose: any change to a part, a sentence
# shape or the composition changes the prompts, and scores across versions are not comparable.
PINNED_SHA256 = "eed3f0211cda53f25f3ea119ebdf8c4bbaf1a216db99798ef943844013a840b7"
PINNED = {
    "b0001": "An elderly fisherman with a weathered face in a narrow alley in the Triana district of Sevilla, "
    "eyes fixed just past the camera, a single bare bulb overhead, 85mm lens, shallow depth of field",
    "b1000": "Hard science fiction concept art: a research station on a frozen moon long after the colonists "
    "left, cables slung between towers, the red glow of a dying sun",
}


@pytest.fixture(scope="module")
def prompts() -> list[tuple[str, str]]:
    return builtin_prompts()


@pytest.fixture(scope="module")
def texts(prompts) -> list[str]:
    return [text for _, text in prompts]


def test_name_and_version():
    assert BUILTIN_NAME == "builtin"
    assert BUILTIN_VERSION == "1"


def test_exactly_1000_ids_in_order(prompts):
    assert len(prompts) == 1000
    assert [pid for pid, _ in prompts] == [f"b{i:04d}" for i in range(1, 1001)]
    assert prompts[0][0] == "b0001" and prompts[-1][0] == "b1000"


def test_texts_unique(texts):
    assert len(set(texts)) == len(texts)
    # Case and spacing differences alone would not make a different prompt either.
    assert len({" ".join(t.lower().split()) for t in texts}) == len(texts)


def test_pinned_content(prompts, texts):
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    assert digest == PINNED_SHA256, "built-in prompts changed: bump BUILTIN_VERSION and re-pin deliberately"
    by_id = dict(prompts)
    for pid, text in PINNED.items():
        assert by_id[pid] == text


def test_deterministic_and_cache_not_mutable():
    first = builtin_prompts()
    first.clear()
    second = builtin_prompts()
    assert len(second) == 1000
    second[0] = ("b0001", "tampered")
    assert builtin_prompts()[0][1] != "tampered"
    assert builtin_prompts() == builtin_prompts()
    cats = builtin_categories()
    cats["b0001"] = "tampered"
    assert builtin_categories()["b0001"] == "portraits"


def test_deterministic_from_scratch(prompts):
    # Rebuilding without the cache must give the same prompts (nothing depends on call order or state).
    builtin._build.cache_clear()
    assert builtin_prompts() == prompts


def test_categories_cover_every_prompt_evenly(prompts):
    cats = builtin_categories()
    assert list(cats) == [pid for pid, _ in prompts]
    assert set(cats.values()) == set(CATEGORIES)
    assert len(CATEGORIES) >= 10
    counts = Counter(cats.values())
    assert min(counts.values()) >= 80, counts
    # Round-robin order keeps any prefix balanced, e.g. a 50-prompt smoke run sees all categories.
    assert set(cats[pid] for pid, _ in prompts[:50]) == set(CATEGORIES)
    expected = {
        "portraits", "animals", "landscapes", "architecture", "interiors",
        "food", "vehicles", "art_styles", "fantasy", "science_fiction",
    }
    assert expected <= set(CATEGORIES)


def test_well_formed_text(texts):
    for text in texts:
        assert text, "empty prompt"
        assert text == text.strip(), repr(text)
        assert "\n" not in text and "\r" not in text and "\t" not in text, repr(text)
        assert "  " not in text, repr(text)
        assert not re.search(r"\s[,.;:]", text), repr(text)
        assert "{" not in text and "}" not in text, repr(text)  # no unfilled template fields
        assert text[0].isupper() or text[0].isdigit(), repr(text)
        assert len(text.split()) >= 10, repr(text)  # detailed enough for ultra-high-resolution generation


def test_some_prompts_exceed_clip_context(texts):
    open_clip = pytest.importorskip("open_clip")
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    n_tokens = [len(tokenizer.encode(t)) + 2 for t in texts]  # + start and end tokens
    assert sum(n > 77 for n in n_tokens) >= 50
    # ...but most prompts fit, so CLIP-based metrics see the whole prompt for the bulk of the set.
    assert sum(n <= 77 for n in n_tokens) >= 800


def test_some_prompts_have_non_ascii_letters(texts):
    # Letters, not punctuation: an em-dash does not exercise a tokenizer's handling of accents or CJK.
    with_letters = [t for t in texts if any(ord(c) > 127 and c.isalpha() for c in t)]
    assert len(with_letters) >= 30
    assert any(any("\u4e00" <= c <= "\u9fff" for c in t) for t in with_letters)  # some CJK, not just accents


def test_no_near_duplicates_within_a_category(prompts):
    # Guards against prompts that are one template with a single word swapped.
    cats = builtin_categories()
    by_cat: dict[str, list[set[str]]] = defaultdict(list)
    for pid, text in prompts:
        by_cat[cats[pid]].append(set(re.findall(r"\w+", text.lower())))
    for cat, word_sets in by_cat.items():
        worst = max(len(a & b) / len(a | b) for a, b in itertools.combinations(word_sets, 2))
        assert worst < 0.75, (cat, worst)


def test_varied_sentence_structure(texts):
    # Vary structure, not just words: a good share of prompts should open with something other than the
    # subject (the lighting, a detail, the camera or medium).
    subjects = tuple(builtin._cap(s) for parts in builtin._PARTS.values() for s in parts.subjects)
    share_subject_first = sum(t.startswith(subjects) for t in texts) / len(texts)
    assert 0.3 <= share_subject_first <= 0.8, share_subject_first
