"""A run folder is one experiment: generating into it with a spec that changes what a unit is gets
refused (exit 2, nothing written) unless --extend or --new-spec says what is meant, and every reader
(status, `current_records` for score and report) keeps the units of the current spec only."""

import json
import shutil

import pytest

from cli_helpers import invoke, snapshot

from ultrabench.runspec import current_records, settings_hash

GEN = ["--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """tiny-sd at 64x64, 3 prompts, seed 0: the first of the issue's three invocations."""
    out = tmp_path_factory.mktemp("base") / "x"
    r = invoke(*GEN, "-n", 3, "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def run(base_run, tmp_path):
    out = tmp_path / "x"
    shutil.copytree(base_run, out)
    return out


def test_a_different_seed_or_n_is_refused_naming_the_fields_and_nothing_is_written(run):
    before = snapshot(run)
    r = invoke(*GEN, "-n", 3, "--seed", 7, "--out", run)
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        f"error: run folder {run} holds units of another spec (seed 0 -> 7); use a new --out, or --new-spec to make "
        "this the run's spec (units of the old spec stay on disk, left out of status, score and report)")
    r = invoke(*GEN, "-n", 5, "--out", run)
    assert r.exit_code == 2
    assert "(num_prompts 3 -> 5); use a new --out, or --extend to grow it, or --new-spec" in r.output
    assert snapshot(run) == before


def test_the_three_invocations_end_with_five_units_never_eight(run):
    """seed 0 n=3 (the fixture), then seed 7 (refused), then n=5 on purpose with --extend."""
    assert invoke(*GEN, "-n", 3, "--seed", 7, "--out", run).exit_code == 2
    r = invoke(*GEN, "-n", 5, "--extend", "--out", run)
    assert r.exit_code == 0, r.output
    assert "note: spec changed with --extend: num_prompts 3 -> 5" in r.output
    assert "2 generated, 3 already done" in r.output
    records, left_out = current_records(run)
    assert len(records) == 5 and left_out == {}
    st = json.loads(invoke("status", run, "--json").output)
    assert st == [{"method": "tiny-sd", "resolution": "64x64", "done": 5, "pending": 0, "oom": 0, "error": 0,
                   "unsupported": 0}]
    # the grown spec is the run's now: the old N is the one refused
    assert "num_prompts 5 -> 3" in invoke(*GEN, "-n", 3, "--out", run).output


def test_new_spec_keeps_old_units_on_disk_but_leaves_them_out(run):
    old = snapshot(run)
    r = invoke(*GEN, "-n", 3, "--seed", 7, "--new-spec", "--out", run)
    assert r.exit_code == 0, r.output
    assert "note: spec changed with --new-spec: seed 0 -> 7" in r.output
    now = snapshot(run)
    assert all(now[k] == v for k, v in old.items() if k.startswith("tiny-sd/"))  # nothing deleted or rewritten
    records, left_out = current_records(run)
    assert len(records) == 3 and left_out == {"seed": 3}
    assert {r.data["unit_spec"]["seed"] for r in records} == {7}
    st = invoke("status", run)
    assert st.exit_code == 0
    lines = st.output.strip().splitlines()
    row = next(line for line in lines if "tiny-sd" in line)  # a rich table, as `methods` and `report` print
    assert [c.strip() for c in row.strip("│").split("│")] == ["tiny-sd", "64x64", "3", "0", "0", "0", "0"]
    assert lines[-1] == "3 units of another spec left out (seed: 3); they stay on disk"


def test_extend_refuses_anything_but_growth(run):
    before = snapshot(run)
    r = invoke(*GEN, "-n", 5, "--seed", 7, "--extend", "--out", run)
    assert r.exit_code == 2
    assert "--extend only grows num_prompts or samples_per_prompt" in r.output and "seed changes (0 -> 7)" in r.output
    assert invoke(*GEN, "-n", 5, "--extend", "--new-spec", "--out", run).exit_code == 2
    assert snapshot(run) == before


def test_changed_method_settings_are_refused_and_redone_in_place_with_new_spec(run, tmp_path):
    spec = tmp_path / "steps2.toml"
    spec.write_text('num_prompts = 3\n[[methods]]\nname = "tiny-sd"\nsettings = {steps = 2}\n')
    before = snapshot(run)
    r = invoke(*GEN, "-s", spec, "--out", run)
    assert r.exit_code == 2 and "(settings of tiny-sd steps 4 -> 2)" in r.output
    assert snapshot(run) == before
    old_hash = settings_hash("tiny-sd", {"steps": 4, "guidance_scale": 3.0, "negative_prompt": ""})
    assert {r.data["settings_hash"] for r in current_records(run)[0]} == {old_hash}

    r = invoke(*GEN, "-s", spec, "--new-spec", "--out", run)
    assert r.exit_code == 0, r.output
    assert "3 generated, 0 already done" in r.output  # same file names, made again with the new settings
    records, left_out = current_records(run)
    new_hash = settings_hash("tiny-sd", {"steps": 2, "guidance_scale": 3.0, "negative_prompt": ""})
    assert {r.data["settings_hash"] for r in records} == {new_hash} and left_out == {}
    assert all(r.data["settings"]["steps"] == 2 for r in records)


def test_every_record_says_what_it_was_made_with(base_run):
    records, _ = current_records(base_run)
    assert len(records) == 3
    for r in records:
        assert r.data["unit_spec"] == {"prompts": "builtin", "prompt_seed": 0, "seed": 0, "samples_per_prompt": 1,
                                       "num_prompts": 3}
        assert len(r.data["settings_hash"]) == 16
    info = json.loads((base_run / "run.json").read_text())
    assert info["settings"]["tiny-sd"]["hash"] == records[0].data["settings_hash"]


def test_a_rejected_spec_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, message in [
        ('[[methods]]\nname = "nosuch"\n', f"error: {bad}: unknown method 'nosuch'"),
        ('[[methods]]\nname = "tiny-sd"\nsettings = {steps = -3}\n',
         f"error: {bad}: method 'tiny-sd': setting steps = -3 is below 1"),
        ('[[methods]]\nname = "tiny-sd"\nsettings = {stepz = 3}\n',
         f"error: {bad}: method 'tiny-sd': unknown setting(s) stepz; known: guidance_scale, negative_prompt, steps"),
    ]:
        bad.write_text(text)
        r = invoke("generate", "-s", bad, "--out", tmp_path / "run")
        assert r.exit_code == 2 and r.output.count("\n") == 1 and r.output.startswith(message), r.output
    r = invoke("generate", "-m", "nosuch", "--out", tmp_path / "run")
    assert r.exit_code == 2
    assert not (tmp_path / "run").exists()


def test_a_prompt_file_without_n_is_used_whole_and_a_larger_n_is_the_error(tmp_path):
    prompts = tmp_path / "my.jsonl"
    prompts.write_text("".join(json.dumps({"id": i, "prompt": f"a {t}"}) + "\n"
                               for i, t in [("a", "cat"), ("b", "dog"), ("c", "cow"), ("d", "fox")]))
    r = invoke(*GEN, "--prompts", prompts, "-n", 9, "--out", tmp_path / "big")
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        f"error: asked for 9 prompts (-n / num_prompts) but prompt set {prompts} has only 4; leave out -n to use all of them")
    assert not (tmp_path / "big").exists()
    r = invoke(*GEN, "--prompts", prompts, "--out", tmp_path / "all")
    assert r.exit_code == 0, r.output
    assert "4 generated" in r.output
    assert json.loads((tmp_path / "all" / "run.json").read_text())["spec"]["num_prompts"] == 4


def test_an_edited_prompt_file_is_a_different_sample(tmp_path):
    prompts = tmp_path / "my.jsonl"
    prompts.write_text('{"id": "a", "prompt": "a cat"}\n{"id": "b", "prompt": "a dog"}\n')
    run = tmp_path / "run"
    assert invoke(*GEN, "--prompts", prompts, "--out", run).exit_code == 0
    prompts.write_text('{"id": "a", "prompt": "a cat"}\n{"id": "c", "prompt": "a cow"}\n')
    before = snapshot(run)
    r = invoke(*GEN, "--prompts", prompts, "--out", run)
    assert r.exit_code == 2
    assert (f"(prompts the sample of '{prompts}' changed (1 prompt(s) left it, 1 joined): the prompt source was "
            "edited); use a new --out, or --new-spec") in r.output
    assert snapshot(run) == before
