"""Files on disk: output files get the mode the umask allows, no temporary folder outlives its
process, and a damaged run.json is named, with how to recover, by every command."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from cli_helpers import invoke

from ultrabench.runstore import atomic_write_json


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One tiny-sd unit generated under umask 022."""
    out = tmp_path_factory.mktemp("modes") / "run"
    old = os.umask(0o022)
    try:
        r = invoke("--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 1, "--out", out)
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    return out


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_are_readable_by_collaborators_under_umask_022(small_run):
    files = [small_run / "run.json", small_run / "prompts.jsonl", small_run / "invocations.jsonl",
             *small_run.glob("tiny-sd/64x64/*.png"), *small_run.glob("tiny-sd/64x64/*.json")]
    assert len(files) == 5
    assert {f.name: oct(_mode(f)) for f in files} == {f.name: "0o644" for f in files}


def test_the_shared_atomic_writer_follows_the_umask(tmp_path):
    # score's summary.json and the report go through the same writer
    old = os.umask(0o027)
    try:
        atomic_write_json(tmp_path / "scores" / "summary.json", {"a": 1})
    finally:
        os.umask(old)
    assert oct(_mode(tmp_path / "scores" / "summary.json")) == "0o640"
    assert [p.name for p in (tmp_path / "scores").iterdir()] == ["summary.json"]  # no temporary file left


_TOKENIZER_FILES = ("import os, sys; from ultrabench.tiny.tokenizer import _cached_folder; p = _cached_folder(); "
                    "print(p, len(os.listdir(os.environ['TMPDIR'])), 'torch' in sys.modules)")


def test_the_tiny_tokenizer_is_built_once_into_the_cache_and_leaves_no_temp_folder(tmp_path):
    tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "ULTRABENCH_CACHE": str(cache)}
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _TOKENIZER_FILES], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.split() == [str(cache / "tokenizers" / "clip-bpe-48894-v1"), "0", "False"]
        assert list(tmp.iterdir()) == []
    assert [p.name for p in (cache / "tokenizers").iterdir()] == ["clip-bpe-48894-v1"]
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(cache / "tokenizers" / "clip-bpe-48894-v1"))
    assert tok("a red fox")["input_ids"] == [49406, 320, 736, 3240, 49407]  # as openai/clip-vit-large-patch14


def test_an_unwritable_cache_falls_back_to_a_temp_folder_removed_at_exit(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    env = {**os.environ, "TMPDIR": str(tmp), "ULTRABENCH_CACHE": str(blocker)}
    out = subprocess.run([sys.executable, "-c", _TOKENIZER_FILES], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == "1"  # while the process lives
    assert list(tmp.iterdir()) == []  # and gone after it exits


@pytest.mark.parametrize("command", [
    ["--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", "1", "--out", "{run}"],
    ["status", "{run}"],
    ["score", "--stand-ins", "{run}"],
    ["report", "-f", "md", "{run}"],
])
def test_a_damaged_run_json_is_named_with_how_to_recover_by_every_command(small_run, tmp_path, command):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "run.json").write_text('{"kind": "generate", "spec": {')
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    r = invoke(*[a.format(run=run) for a in command])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        f"error: {run / 'run.json'} is damaged (Expecting property name enclosed in double quotes at line 1); "
        f"restore it from the last line of invocations.jsonl (`tail -n 1 {run / 'invocations.jsonl'} > "
        f"{run / 'run.json'}`), or move it away")
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    # the advice works
    last = (run / "invocations.jsonl").read_text().splitlines()[-1]
    (run / "run.json").write_text(last)
    assert invoke("status", run).exit_code == 0


def test_a_damaged_prompts_file_is_named(small_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / "prompts.jsonl").write_text('{"id": "b0001", "prompt": "a fox"}\n{"id": \n')
    r = invoke("--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 1, "--out", run)
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1].startswith(f"error: {run / 'prompts.jsonl'} is damaged (line 2:")
    assert json.loads((run / "run.json").read_text())["kind"] == "generate"
