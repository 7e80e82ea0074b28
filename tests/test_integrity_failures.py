"""Failures that must not look like success: a command whose work failed, in whole or in part,
exits non-zero and says so in its summary line; the failed units can be listed."""

import json

from cli_helpers import invoke

from ultrabench.methods import Method


class Broken(Method):
    name = "broken"

    def generate(self, prompts, seeds, res):
        raise RuntimeError("the model fell over\nsecond line")


def test_a_generate_where_every_unit_errors_exits_1_and_its_rerun_does_not_call_them_done(tmp_path, register_method):
    register_method(Broken)
    args = ["--device", "cpu", "-q", "generate", "-m", "broken", "--res", "64x64", "-n", 2, "--out", tmp_path / "run"]
    r = invoke(*args)
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert lines[-2] == f"0 generated, 0 already done, 2 failed; run folder: {tmp_path / 'run'}"
    assert lines[-1] == (
        "error: 2 unit(s) are recorded as oom or error (first: broken 64x64: RuntimeError: the model fell over); "
        f"`ultrabench status --failed {tmp_path / 'run'}` lists them, `--retry-failed` redoes them")
    assert len(list((tmp_path / "run" / "broken" / "64x64").glob("*.json"))) == 2

    again = invoke(*args)
    assert again.exit_code == 1
    assert f"0 generated, 0 already done, 2 failed earlier and not retried; run folder: {tmp_path / 'run'}" in again.output
    assert "--retry-failed" in again.output.strip().splitlines()[-1]

    st = invoke("status", tmp_path / "run", "--failed")
    assert st.exit_code == 0
    lines = st.output.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("broken/64x64/") for line in lines[:2])
    assert all(line.endswith("  error: RuntimeError: the model fell over") for line in lines[:2])
    assert lines[2] == "2 failed unit(s); `ultrabench generate --retry-failed` redoes them"
    rows = json.loads(invoke("status", tmp_path / "run", "--failed", "--json").output)
    assert [r["status"] for r in rows] == ["error", "error"]


def test_status_on_a_folder_that_is_not_a_run_exits_2(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = invoke("status", tmp_path)
    assert r.exit_code == 2
    assert r.output == (f"error: {tmp_path} is not a run folder (no run.json, prompts.jsonl or unit records); "
                        "pass the folder `ultrabench generate --out` wrote\n")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_method_lists_take_commas_and_a_name_given_twice_counts_once(tmp_path):
    out = tmp_path / "run"
    r = invoke("--device", "cpu", "-q", "generate", "-m", "tiny-sd", "-m", "tiny-sd,tiny_sd", "--res", "64x64",
               "-n", 1, "--out", out)
    assert r.exit_code == 0, r.output
    assert "tiny-sd 64x64: 1 ok" in r.output and "1 generated" in r.output
    work = json.loads((out / "run.json").read_text())["work"]
    assert [w["name"] for w in work] == ["tiny-sd"]
