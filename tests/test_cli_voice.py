"""One voice across commands (issue #29): shared options before or after a command's name,
--version and -h, -q silencing chatter only, exit codes that say when nothing was done, SIGTERM
saying what Ctrl-C says, a full disk naming the file."""

import errno
import json
import os
import signal

import pytest

from cli_helpers import invoke, snapshot

from ultrabench.cli import _globals_first
from ultrabench.methods import GeneratedImage, Method


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_shared_options_are_moved_before_the_command_and_nothing_after_double_dash():
    assert _globals_first(["score", "A", "--device", "cpu", "-q", "--dtype=bfloat16", "--debug"]) == \
        ["--device", "cpu", "-q", "--dtype=bfloat16", "--debug", "score", "A"]
    assert _globals_first(["--device", "cpu", "weights", "list", "--weights-dir", "W"]) == \
        ["--weights-dir", "W", "--device", "cpu", "weights", "list"]
    assert _globals_first(["prompts", "show", "--", "-q"]) == ["prompts", "show", "--", "-q"]


def test_shared_options_work_after_the_command_name(tmp_path):
    out = tmp_path / "run"
    r = invoke("generate", "-m", "tiny-sd", "--res", "64x64", "-n", 1, "--out", out, "--device", "cpu", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(next(out.rglob("*__s*.json")).read_text())["device"] == "cpu"
    r = invoke("status", out, "--json", "--debug")
    assert r.exit_code == 0 and json.loads(r.output)[0]["done"] == 1
    w = tmp_path / "w" / "toshas" / "torch-fidelity"
    w.mkdir(parents=True)
    (w / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"x")
    r = invoke("weights", "list", "--metric", "fid", "--json", "--weights-dir", tmp_path / "w")
    assert json.loads(r.output)[0]["status"] == "ok"


def test_version_and_short_help():
    from ultrabench import __version__

    r = invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"ultrabench {__version__}"
    for args in (["-h"], ["score", "-h"], ["weights", "fetch", "-h"]):
        r = invoke(*args)
        assert r.exit_code == 0 and r.output.startswith("Usage:"), args


def test_quiet_keeps_a_commands_output(tmp_path):
    out = tmp_path / "run"
    assert invoke("-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 1, "--out", out).exit_code == 0
    r = invoke("-q", "report", out, "-f", "terminal")
    assert r.exit_code == 0 and "Table 1" in r.output and "tiny-sd" in r.output.lower()


def test_a_generate_whose_units_are_all_unsupported_exits_non_zero(tmp_path):
    out = tmp_path / "run"
    for _ in range(2):  # the first run records them unsupported; a rerun finds nothing to do either
        r = invoke("-q", "generate", "-m", "tiny-sd", "--res", "9x13", "-n", 2, "--out", out)
        assert r.exit_code == 2, r.output
        assert "error: none of the 2 unit(s) asked for can be made" in r.output
    # a supported size beside it is work done: exit 0
    r = invoke("-q", "generate", "-m", "tiny-sd", "--res", "9x13,64x64", "-n", 1, "--out", tmp_path / "mixed")
    assert r.exit_code == 0, r.output


class TermOnSecond(Method):
    """The scheduler's SIGTERM arrives while the second unit is being made."""

    name = "term-on-second"
    calls = 0

    def plan(self, res):
        from ultrabench.methods import SizePlan

        return SizePlan.native_at(res)

    def load(self):
        pass

    def generate(self, prompts, seeds, res):
        from PIL import Image

        TermOnSecond.calls += 1
        if TermOnSecond.calls == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return [GeneratedImage(Image.new("RGB", (res.width, res.height)), {}) for _ in prompts]


def test_sigterm_stops_generate_saying_what_is_done_and_how_to_resume(tmp_path, register_method):
    register_method(TermOnSecond)
    out = tmp_path / "run"
    r = invoke("-q", "generate", "-m", "term-on-second", "--res", "64x64", "-n", 3, "--out", out)
    assert r.exit_code == 143, r.output
    assert "term-on-second 64x64: 1 ok" in r.output and "1 generated, 0 already done" in r.output
    assert "stopped early on request (SIGTERM); rerun the same command to resume" in r.output
    assert len(list(out.rglob("*.png"))) == 1  # the unit under way is not written
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the stopped process ignores further ones while it exits
    r = invoke("-q", "generate", "-m", "term-on-second", "--res", "64x64", "-n", 3, "--out", out)
    assert r.exit_code == 0 and "2 generated, 1 already done" in r.output, r.output


def test_extend_on_a_full_disk_names_the_prompt_file(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert invoke("-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 1, "--out", out).exit_code == 0
    before = snapshot(out)
    from ultrabench import runstore

    real = runstore.atomic_write_bytes

    def full(path, payload):
        if path.name == "prompts.jsonl":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, payload)

    monkeypatch.setattr(runstore, "atomic_write_bytes", full)
    r = invoke("-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 2, "--extend", "--out", out)
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == f"error: cannot write {out / 'prompts.jsonl'}: No space left on device"
    assert {k: v for k, v in snapshot(out).items() if k in before} == before  # nothing written is lost


def test_a_methods_missing_weights_line_names_the_fetch_for_that_method(tmp_path):
    r = invoke("-q", "generate", "-m", "pixart-sigma", "--res", "1024x1024", "-n", 1, "--out", tmp_path / "run",
               "--device", "cpu")
    assert r.exit_code == 1
    assert "fetch it with: ultrabench weights fetch --method pixart-sigma" in r.output
