"""The CLI through Typer's runner (and one real subprocess for start-up cost)."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ultrabench.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_help_is_instant_and_imports_no_torch():
    code = "import sys, ultrabench.cli; print(sorted(m for m in ('torch','numpy','diffusers','PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    r = invoke("--help")
    assert r.exit_code == 0 and "HEIGHT x WIDTH" in r.output
    for cmd in ("generate", "score", "report", "run", "methods", "prompts", "weights", "doctor", "demo"):
        assert cmd in r.output


@pytest.mark.parametrize("bad", ["2160x", "0x512", "abc", "-5x10", "99999x99999"])
def test_bad_resolutions_exit_2_with_one_line(bad, tmp_path):
    r = invoke("generate", "--res", bad, "--out", str(tmp_path))
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and r.output.startswith("error: resolution")


def test_bad_usage_exit_codes(tmp_path):
    assert invoke("--dtype", "int8", "methods").exit_code == 2
    r = invoke("generate", "--method", "tiny-sdd", "--out", str(tmp_path))
    assert r.exit_code == 2 and "did you mean 'tiny-sd'" in r.output
    assert invoke("generate", "--spec", str(tmp_path / "missing.toml")).exit_code == 2
    assert invoke("score", str(tmp_path / "nope")).exit_code == 2


def test_generate_echoes_resolutions_and_resumes(tmp_path):
    args = ["--device", "cpu", "-q", "generate", "--method", "tiny-sd", "--res", "64x96", "-n", "2", "--out", str(tmp_path)]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "64x96: 64 high, 96 wide, landscape" in r.output
    assert "2 generated, 0 already done" in r.output
    r = invoke(*args)
    assert "0 generated, 2 already done" in r.output
    assert len(list(tmp_path.glob("tiny-sd/64x96/*.png"))) == 2


def test_methods_matrix_json_matches_declarations():
    r = invoke("methods", "--all", "--json", "--res", "320x576,2048x2048")
    assert r.exit_code == 0
    rows = {row["method"]: row for row in json.loads(r.output)}
    assert rows["tiny-sd"]["cells"]["320x576"]["support"] == "native"
    assert rows["tiny-sd"]["cells"]["2048x2048"]["support"] == "unsupported"
    assert rows["tiny-sd-sr"]["cells"]["320x576"] == {
        "support": "native-then-resized", "native": "160x288", "resize_filter": "lanczos",
        "reason": "generates at half size, then upscales"}


def test_prompts_show_and_export(tmp_path):
    r = invoke("prompts", "show", "-n", "5", "--limit", "2")
    assert r.exit_code == 0
    lines = [line for line in r.output.splitlines() if "\t" in line]
    assert len(lines) == 2 and all(line.startswith("b") for line in lines) and "(5 prompts, 2 shown)" in r.output
    dest = tmp_path / "p.csv"
    r = invoke("prompts", "export", str(dest), "-n", "5")
    assert r.exit_code == 0 and dest.read_text().count("\n") == 6
    bad = tmp_path / "dup.csv"
    bad.write_text("id,prompt\na,x\na,y\n")
    r = invoke("prompts", "show", str(bad))
    assert r.exit_code == 2 and "duplicate id 'a'" in r.output


def test_doctor_names_missing_weights_and_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    r = invoke("--weights-dir", str(tmp_path / "w"), "doctor", "--method", "ultrapixel", "--res", "2048x2048")
    assert r.exit_code == 1
    assert "stage_c_bf16.safetensors" in r.output and "stabilityai/stable-cascade" in r.output
    assert "MISSING" in r.output and r.output.strip().endswith("(see the missing items above)")


def test_doctor_passes_for_tiny_methods(tmp_path):
    r = invoke("doctor", "--spec", "table1", "--method", "tiny-sd", "--res", "64x64", "--metric", "glcm")
    assert r.exit_code == 0, r.output
    assert "ready" in r.output
