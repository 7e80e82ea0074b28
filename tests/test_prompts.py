import json

import pandas as pd
import pytest

from ultrabench.errors import UsageError
from ultrabench.prompts import Prompt, load_prompts, sample_prompts
from ultrabench.prompts.export import export_prompts


def test_local_formats_load_with_stable_ids(tmp_path):
    (tmp_path / "p.txt").write_text("a red fox\n\n  a blue car  \n")
    assert load_prompts(str(tmp_path / "p.txt")) == [Prompt("l0001", "a red fox"), Prompt("l0003", "a blue car")]

    (tmp_path / "p.csv").write_text("id,prompt,reference\nx1,a fox,/refs/1.png\nx2,a car,\n")
    assert load_prompts(str(tmp_path / "p.csv")) == [Prompt("x1", "a fox", "/refs/1.png"), Prompt("x2", "a car")]

    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "j1", "prompt": "Zürich café"}) + "\n")
    assert load_prompts(str(tmp_path / "p.jsonl"))[0].text == "Zürich café"

    pd.DataFrame({"id": ["q1", "q2"], "prompt": ["one", "two"]}).to_parquet(tmp_path / "p.parquet")
    assert [p.id for p in load_prompts(str(tmp_path / "p.parquet"))] == ["q1", "q2"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("dup.csv", "id,prompt\na,x\na,y\n", "duplicate id 'a'"),
        ("empty.csv", "id,prompt\na,\n", "prompt 'a' is empty"),
        ("nocol.csv", "id,text\na,x\n", "no 'prompt' column"),
        ("bad.jsonl", '{"id": "a", "prompt": "x"}\n{oops\n', "line 2 is not JSON"),
        ("none.txt", "\n\n", "is empty"),
        ("x.yaml", "a: b", "unsupported extension"),
    ],
)
def test_bad_prompt_files_give_clear_errors(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(UsageError, match=message):
        load_prompts(str(p))


def test_unreadable_and_missing_sources(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        load_prompts(str(p))
    with pytest.raises(UsageError, match="neither 'builtin'"):
        load_prompts(str(tmp_path / "missing.csv"))


def test_hf_dataset_offline_without_cache_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(UsageError, match="dataset 'nobody/no-such-prompts' .split 'train'. is neither in datasets' cache nor in the hub cache"):
        load_prompts("hf:nobody/no-such-prompts")


def test_sampling_is_deterministic_order_independent_and_in_source_order():
    prompts = load_prompts("builtin")
    a = sample_prompts(prompts, 50, seed=3)
    assert a == sample_prompts(prompts, 50, seed=3)
    assert [p.id for p in a] == sorted(p.id for p in a)  # source order kept
    assert {p.id for p in sample_prompts(list(reversed(prompts)), 50, seed=3)} == {p.id for p in a}
    assert {p.id for p in sample_prompts(prompts, 50, seed=4)} != {p.id for p in a}
    with pytest.raises(UsageError, match="only 1000"):
        sample_prompts(prompts, 1001)


def test_export_round_trips(tmp_path):
    prompts = sample_prompts(load_prompts("builtin"), 7, seed=1)
    for ext in ("jsonl", "csv", "parquet"):
        dest = export_prompts(prompts, tmp_path / f"out.{ext}")
        assert load_prompts(str(dest)) == prompts
    # a .txt keeps the texts; ids become line numbers (the CLI says so)
    back = load_prompts(str(export_prompts(prompts, tmp_path / "out.txt")))
    assert [p.text for p in back] == [p.text for p in prompts] and back[0].id == "l0001"
