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
        "reason": "generates at half size, then upscales", "as_run": "as-authors", "as_run_note": None}


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


def test_import_fills_prompts_and_checks_sizes(tmp_path):
    from PIL import Image

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for pid, size in (("b0001", (1792, 1024)), ("b0002", (1024, 1024))):
        Image.new("RGB", size).save(imgs / f"{pid}.png")
    (tmp_path / "map.csv").write_text("prompt_id,file\nb0001,b0001.png\nb0002,b0002.png\n")
    out = tmp_path / "run"
    r = invoke("import", "dall-e-3", str(imgs), "--mapping", str(tmp_path / "map.csv"), "--res", "1024x1792",
               "--out", str(out), "--display-name", "DALL-E 3")
    assert r.exit_code == 1, r.output  # one file was rejected: a script must be able to tell
    assert "1024x1792: 1024 high, 1792 wide" in r.output and "1 imported" in r.output and "1 rejected" in r.output
    assert "rejected b0002: b0002.png is 1024x1024, requested 1024x1792" in r.output
    rec = json.loads((out / "dall-e-3" / "1024x1792" / next(p.name for p in (out / "dall-e-3" / "1024x1792").glob("b0001*.json"))).read_text())
    assert rec["prompt"] and rec["display_name"] == "DALL-E 3"
    st = invoke("status", str(out), "--json")
    assert json.loads(st.output) == [{"method": "dall-e-3", "resolution": "1024x1792", "done": 1, "pending": 0,
                                      "oom": 0, "error": 1, "unsupported": 0}]


def test_env_create_dry_run_lists_the_pinned_install(tmp_path):
    repo = tmp_path / "ScaleCrafter"
    repo.mkdir()
    (repo / "requirements.txt").write_text("diffusers==0.20.2\ntransformers~=4.25.1\nxformers~=0.0.18\n")
    r = invoke("env", "create", "scalecrafter", "--repo", str(repo), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "diffusers==0.20.2" in r.output and "venv" in r.output
    bad = invoke("env", "create", "scalecrafter", "--repo", str(tmp_path / "nope"), "--dry-run")
    assert bad.exit_code == 2


def test_score_and_report_on_a_generated_run(tmp_path):
    from ultrabench.demo import synthetic_reference

    out = tmp_path / "run"
    ref = synthetic_reference(tmp_path / "ref", n=4)
    gen = invoke("-q", "--device", "cpu", "generate", "-m", "tiny-sd", "-m", "tiny-sd-sr", "--res", "320x320",
                 "-n", "3", "--out", str(out))
    assert gen.exit_code == 0, gen.output
    r = invoke("-q", "--device", "cpu", "score", str(out), "--stand-ins", "--reference", str(ref),
               "--metric", "fid", "--metric", "fid-patch", "--metric", "clip", "--metric", "pickscore")
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "scores" / "summary.json").read_text())
    assert {(s["method"], s["metric"]) for s in summary["sets"]} >= {("tiny-sd", "fid"), ("tiny-sd-sr", "fid-patch")}
    rep = invoke("report", str(out), "--format", "md", "--format", "csv", "--compare-paper", "--ci")
    assert rep.exit_code == 0, rep.output
    md = (out / "report" / "table1.md").read_text()
    assert "mean nothing" in md and "tiny-sd" in md and "±" in md
    assert invoke("report", str(out), "--format", "pdf").exit_code == 2


def test_reference_build_caches_statistics(tmp_path):
    from ultrabench.demo import synthetic_reference

    ref = synthetic_reference(tmp_path / "ref", n=3)
    stats = tmp_path / "stats.npz"
    r = invoke("-q", "--device", "cpu", "reference", "build", str(ref), "--stand-ins", "--out", str(stats))
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"reference statistics: {stats}" and stats.stat().st_size > 0
    import numpy as np

    with np.load(stats, allow_pickle=False) as z:
        assert any(k.startswith("full") or "pool" in k for k in z.files)
    again = invoke("-q", "--device", "cpu", "reference", "build", str(ref), "--stand-ins", "--out", str(stats))
    assert again.output == r.output
    missing = invoke("reference", "build", str(tmp_path / "nothing"), "--stand-ins")
    assert missing.exit_code == 2


def test_run_does_generate_score_report_from_one_spec(tmp_path):
    spec = tmp_path / "small.toml"
    spec.write_text(f"""
name = "small"
out = "{tmp_path / 'run'}"
num_prompts = 2
resolutions = ["320x320"]
metrics = ["clip", "is-patch", "glcm", "pickscore"]
reference_method = "tiny-sd"

[[methods]]
name = "tiny-sd"

[[methods]]
name = "tiny-lanczos"
method = "tiny-sd-sr"
display_name = "Tiny upscaled"
""")
    r = invoke("-q", "--device", "cpu", "run", str(spec), "--stand-ins")
    assert r.exit_code == 0, r.output
    assert "4 generated" in r.output
    summary = json.loads((tmp_path / "run" / "scores" / "summary.json").read_text())
    assert {s["method"] for s in summary["sets"]} == {"tiny-sd", "tiny-lanczos"}
    assert [w["method"] for w in summary["winrates"]] == ["tiny-lanczos"]
    assert "Tiny upscaled" in (tmp_path / "run" / "report" / "table1.md").read_text()
    # report on the folder alone takes the reference method from the run's frozen spec
    rep = invoke("report", str(tmp_path / "run"), "--format", "csv", "--extra", "winrate")
    assert rep.exit_code == 0, rep.output
    import csv as _csv

    rows = {r["method"]: r for r in _csv.DictReader((tmp_path / "run" / "report" / "table1.csv").open())}
    assert rows["tiny-lanczos"]["winrate"] != "" and rows["tiny-sd"]["winrate"] == ""
    assert "reference method (tiny-sd)" in rows["tiny-sd"]["notes"]
    frozen = json.loads((tmp_path / "run" / "run.json").read_text())["spec"]
    assert frozen["methods"][1] == {"name": "tiny-lanczos", "method": "tiny-sd-sr", "display_name": "Tiny upscaled",
                                    "resolutions": [], "settings": {}}


def test_weights_are_found_in_weights_dir_and_torch_hub(tmp_path, monkeypatch):
    from ultrabench.metrics.plugins.inception import Inception
    from ultrabench.weights import WeightResolver

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    wf = Inception().weight_files()[0]
    r = WeightResolver(tmp_path / "w")
    assert r.status(wf).source == "missing"
    assert "weights-inception-2015-12-05-6726825d.pth" in r.missing_message(wf) and "github.com" in r.missing_message(wf)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / wf.filename).write_bytes(b"x")
    assert r.status(wf).path == hub / wf.filename
    local = tmp_path / "w" / "toshas" / "torch-fidelity" / wf.filename
    local.parent.mkdir(parents=True)
    local.write_bytes(b"y")
    assert r.status(wf).path == local and r.status(wf).source == "weights-dir"


def test_doctor_checks_the_reference_set(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(f'name = "s"\nreference = "{tmp_path / "no-such-folder"}"\nmetrics = ["fid", "glcm"]\n'
                    '[[methods]]\nname = "tiny-sd"\n')
    r = invoke("doctor", "--spec", str(spec), "--method", "tiny-sd", "--res", "64x64")
    assert r.exit_code == 1 and "no-such-folder does not exist (needed by fid)" in r.output
    spec.write_text('name = "s"\nmetrics = ["fid", "glcm"]\n[[methods]]\nname = "tiny-sd"\n')
    r = invoke("doctor", "--spec", str(spec), "--method", "tiny-sd", "--res", "64x64", "--metric", "fid")
    assert "no reference images set: fid will be skipped" in r.output


def test_a_method_that_cannot_load_is_named_and_the_others_still_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    r = invoke("-q", "--device", "cpu", "--weights-dir", str(tmp_path / "w"), "generate", "-m", "ultrapixel",
               "-m", "tiny-sd", "-m", "scalecrafter", "--res", "2048x2048", "-n", "1", "--out", str(tmp_path / "run"))
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert any(line.startswith("error: ultrapixel: missing file stage_c_bf16.safetensors") for line in lines)
    assert any(line.startswith("error: scalecrafter runs the official code: clone github.com/YingqingHe/ScaleCrafter")
               for line in lines)
    assert lines[-1] == "error: 2 method(s) could not run (see above); their units stay pending"
    assert "tiny-sd 2048x2048: 1 unsupported" in r.output  # tiny-sd stops at 1 MP: recorded, not skipped
    st = json.loads(invoke("status", str(tmp_path / "run"), "--json").output)
    assert {(x["method"], x["pending"], x["unsupported"]) for x in st} == {
        ("ultrapixel", 1, 0), ("scalecrafter", 1, 0), ("tiny-sd", 0, 1)}
