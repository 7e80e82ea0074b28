"""`score` on bad input and in bad conditions: one line, the right exit code, nothing left behind.

Read-only and full-disk conditions are real (a read-only bind mount and a small tmpfs) where this
process may mount, which root on Linux may; elsewhere those tests skip with the reason.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scoring_helpers import make_images, make_run
from ultrabench.resolution import parse_resolution
from ultrabench.runstore import RunStore, Unit


def ub(*args, env=None, **kw):
    e = dict(os.environ, HF_HUB_OFFLINE="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "ultrabench", "-q", "--device", "cpu", *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=600, **kw)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def cache_env(tmp_path):
    return {"ULTRABENCH_CACHE": str(tmp_path / "ubcache")}


def test_a_folder_that_does_not_exist_is_one_line_and_nothing_is_created(tmp_path, cache_env):
    r = ub("score", tmp_path / "nope", "--stand-ins", env=cache_env)
    assert r.returncode == 2 and r.stderr.strip().startswith(f"error: run folder {tmp_path / 'nope'} does not exist")
    assert "\n" not in r.stderr.strip()
    assert not (tmp_path / "nope").exists()


def test_an_empty_folder_and_a_run_without_images_exit_2_writing_nothing(tmp_path, cache_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = ub("score", empty, "--stand-ins", env=cache_env)
    assert r.returncode == 2 and "is not a run folder (no run.json, no unit records) and holds no images" in r.stderr
    assert listing(empty) == []
    run = tmp_path / "run"
    RunStore(run).write_unit(Unit("m", parse_resolution("64x64"), "p0", "x", 0), {"status": "oom", "stages": {}})
    before = listing(run)
    r = ub("score", run, "--stand-ins", env=cache_env)
    assert r.returncode == 2 and f"run folder {run} holds no finished images to score" in r.stderr
    assert listing(run) == before


def test_a_plain_folder_of_images_is_scored_like_clean_fid_folder_to_folder(tmp_path, cache_env):
    imgs = make_images(tmp_path / "gen", n=3, seed=1)
    Image.fromarray(np.zeros((310, 400, 3), np.uint8)).save(imgs / "wide.png")  # another size: its own group
    ref = make_images(tmp_path / "ref", n=3, seed=2)
    r = ub("score", imgs, "--stand-ins", "--reference", ref, "--metric", "fid,clip,is", "--workers", "0",
           env=cache_env)
    assert r.returncode == 0, r.stderr
    assert f"{imgs} is not a run folder: scored its 4 images as method 'gen', grouped by image size" in r.stdout
    assert "no prompts for the images of a plain folder: skipped clip" in r.stdout
    assert not (imgs / "scores").exists()  # like clean-fid: nothing is written beside the user's images
    results = plain_results(imgs, cache_env)
    s = json.loads((results / "scores" / "summary.json").read_text())
    assert s["plain_folder"] is True and s["skipped"] == {"clip": "no prompts for the images of a plain folder"}
    fid = {x["resolution"]: x for x in s["sets"] if x["metric"] == "fid"}
    assert fid["320x320"]["n"] == 3 and "310x400" not in fid  # one image cannot give a covariance
    assert {x["resolution"]: x["reason"] for x in s["not_computed"] if x["metric"] == "fid"} == \
        {"310x400": "needs at least 2 feature rows (1 in this set)"}
    # with a prompt file whose ids are the file names, the prompt metrics run too
    (tmp_path / "p.csv").write_text("id,prompt\nr0,a cat\nr1,a dog\nr2,a car\nwide,a wide view\n")
    r = ub("score", imgs, "--stand-ins", "--metric", "clip", "--prompts", tmp_path / "p.csv", "--workers", "0",
           env=cache_env)
    assert r.returncode == 0, r.stderr
    s = json.loads((results / "scores" / "summary.json").read_text())
    assert {x["resolution"]: x["n"] for x in s["sets"] if x["metric"] == "clip"} == {"320x320": 3, "310x400": 1}


def plain_results(folder: Path, env: dict) -> Path:
    """Where the README says a plain folder's results go: the cache's results/<name>-<path hash>."""
    import hashlib

    token = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    return Path(env["ULTRABENCH_CACHE"]) / "results" / f"{folder.resolve().name}-{token}"


def test_score_prints_the_values_it_computed_and_json_on_request(tmp_path, cache_env):
    imgs = make_images(tmp_path / "gen", n=3, seed=1)
    ref = make_images(tmp_path / "ref", n=3, seed=2)
    args = ("score", imgs, "--stand-ins", "--reference", ref, "--metric", "fid,is", "--workers", "0")
    r = ub(*args, env=cache_env)
    assert r.returncode == 0, r.stderr
    s = json.loads((plain_results(imgs, cache_env) / "scores" / "summary.json").read_text())
    fid = next(x for x in s["sets"] if x["metric"] == "fid")
    row = next(line for line in r.stdout.splitlines() if line.startswith("│ fid"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells == ["fid", "gen", "320x320", "3", f"{fid['value']:.4g}*",
                     f"{fid['ci95'][0]:.4g} – {fid['ci95'][1]:.4g}"]  # starred: its small-reference warning
    assert "* carries the warning printed above" in r.stdout
    assert f"scored 2 values; wrote {plain_results(imgs, cache_env) / 'scores'}" in r.stdout
    j = ub(*args, "--json", env=cache_env)
    assert j.returncode == 0, j.stderr
    out = json.loads(j.stdout)  # nothing but the JSON on stdout
    assert {(v["metric"], v["n"], v["value"]) for v in out["values"]} == \
        {(x["metric"], x["n"], x["value"]) for x in s["sets"]}
    assert next(v for v in out["values"] if v["metric"] == "fid")["warning"] == "small reference: 3 rows, fewer than 1000"


def test_a_plain_folders_results_go_to_out_and_its_report_knows_its_images(tmp_path, cache_env):
    imgs = make_images(tmp_path / "gen", n=3, seed=1)
    before = listing(imgs)
    out = tmp_path / "results"
    r = ub("score", imgs, "--stand-ins", "--metric", "is", "--workers", "0", "--out", out, env=cache_env)
    assert r.returncode == 0, r.stderr
    assert listing(imgs) == before and (out / "scores" / "summary.json").is_file()
    assert not (Path(cache_env["ULTRABENCH_CACHE"]) / "results").exists()
    rep = ub("report", out, "-f", "terminal", env=cache_env)  # -q still prints the table: it is the output
    assert rep.returncode == 0, rep.stderr
    assert "Table 1" in rep.stdout and "gone" not in rep.stdout and "changed since scoring" not in rep.stdout
    assert "images of a plain folder carry no generation records" in rep.stdout
    assert "warm-up" not in rep.stdout
    (imgs / "r0.png").write_bytes((imgs / "r1.png").read_bytes())  # an image rewritten after scoring
    words = " ".join(ub("report", out, "-f", "terminal", env=cache_env).stdout.split())  # rich wraps long lines
    assert "changed since scoring" in words and f"`ultrabench score {imgs} --out {out}` to refresh" in words
    # the default place: `report FOLDER` finds what `score FOLDER` wrote, and calls its units current
    assert ub("score", imgs, "--stand-ins", "--metric", "is", "--workers", "0", env=cache_env).returncode == 0
    rep = ub("report", imgs, "-f", "md", env=cache_env)
    assert rep.returncode == 0, rep.stderr
    md = (plain_results(imgs, cache_env) / "report" / "table1.md").read_text()
    assert "gone" not in md and "changed since scoring" not in md and listing(imgs) == before


def test_a_run_folder_keeps_its_scores_in_it(tmp_path, cache_env):
    run = make_run(tmp_path / "run", n=2)
    r = ub("score", run, "--stand-ins", "--metric", "is", "--out", tmp_path / "elsewhere", env=cache_env)
    assert r.returncode == 2 and f"{run} is a run folder: its scores live in {run / 'scores'}" in r.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_a_score_that_fails_on_missing_weights_leaves_nothing_behind(tmp_path, cache_env):
    imgs = make_images(tmp_path / "gen", n=2, seed=1)
    run = make_run(tmp_path / "run", n=2)
    before = listing(run)
    for folder in (imgs, run):
        r = ub("score", folder, "--metric", "is", "--workers", "0", env=cache_env)  # no stand-ins, no weights
        assert r.returncode == 1 and "ultrabench weights fetch --metric is" in r.stderr, r.stderr
    assert listing(run) == before and listing(imgs) == ["r0.png", "r1.png"]
    assert not (Path(cache_env["ULTRABENCH_CACHE"]) / "results").exists()


def test_a_tiny_reference_prints_a_warning_beside_the_number(tmp_path, cache_env):
    run = make_run(tmp_path / "run", n=3)
    ref = make_images(tmp_path / "ref", n=2)
    r = ub("score", run, "--stand-ins", "--reference", ref, "--metric", "fid", "--workers", "0", env=cache_env)
    assert r.returncode == 0, r.stderr
    assert "warning: fid: small reference: 2 rows, fewer than 1000; the values are printed with this warning" in r.stdout
    (fid,) = json.loads((run / "scores" / "summary.json").read_text())["sets"]
    assert fid["n_ref"] == 2 and fid["warning"] == "small reference: 2 rows, fewer than 1000"


def test_small_images_are_one_summary_line_not_one_per_image(tmp_path, cache_env):
    run = make_run(tmp_path / "run", n=5, size=(128, 128))
    r = ub("score", run, "--stand-ins", "--metric", "is-patch,is", "--workers", "0", env=cache_env)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if "smaller than the 299x299 crop" in x]
    assert lines == ["warning: 5 images are smaller than the 299x299 crop of the patch metrics, so the metrics that "
                     "need it leave them out: m/128x128/p0__s0.png, m/128x128/p1__s1.png, m/128x128/p2__s2.png "
                     "and 2 more"]
    s = json.loads((run / "scores" / "summary.json").read_text())
    assert [(x["metric"], x["reason"]) for x in s["not_computed"]] == \
        [("is-patch", "smaller than the 299x299 crop of the patch metrics")]


def _mount(*args):
    return subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def read_only_copy(tmp_path):
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        pytest.skip("needs root on Linux for a read-only bind mount")
    src, ro = make_run(tmp_path / "src"), tmp_path / "ro"
    ro.mkdir()
    if _mount("--bind", src, ro).returncode or _mount("-o", "remount,ro,bind", ro).returncode:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
        pytest.skip("this machine does not allow a read-only bind mount")
    yield ro
    subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_a_read_only_run_folder_fails_in_one_line_before_any_model_loads(read_only_copy, tmp_path):
    # no --stand-ins and no weights anywhere: had a model loaded first, the error would name its missing file
    env = {"ULTRABENCH_CACHE": str(tmp_path / "c"), "HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "t")}
    r = ub("score", read_only_copy, "--metric", "is", env=env)
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: cannot write {read_only_copy / 'scores'}: Read-only file system"


@pytest.fixture
def full_disk(tmp_path):
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        pytest.skip("needs root on Linux for a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(disk):
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_temporary_file(full_disk, tmp_path, cache_env):
    run = make_run(full_disk / "run", n=3, size=(320, 320))
    (run / "scores").mkdir()
    filler = _fill(full_disk)  # what is left, so the first feature file cannot be written
    r = ub("score", run, "--stand-ins", "--metric", "is", "--workers", "0", env=cache_env)
    assert r.returncode == 1
    line = r.stderr.strip()
    assert line.startswith(f"error: cannot write {run / 'scores'}") and line.endswith(": No space left on device")
    assert "\n" not in line
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    filler.unlink()
    r = ub("score", run, "--stand-ins", "--metric", "is", "--workers", "0", env=cache_env)
    assert r.returncode == 0, r.stderr
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


def test_a_report_on_a_full_disk_is_one_line_and_keeps_the_previous_files(full_disk, tmp_path, cache_env):
    run = make_run(full_disk / "run", n=2, size=(128, 128))
    assert ub("score", run, "--stand-ins", "--metric", "glcm", "--workers", "0", env=cache_env).returncode == 0
    r = ub("report", run, "-f", "md,html", env=cache_env)
    assert r.returncode == 0, r.stderr
    files = lambda: {str(p): p.read_bytes() for p in (run / "report").rglob("*") if p.is_file()}  # noqa: E731
    before = files()
    filler = _fill(full_disk)
    r = ub("report", run, "-f", "md,html", env=cache_env)
    assert r.returncode == 1
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: cannot write {run / 'report'}")
    assert line.endswith("No space left on device")
    assert files() == before  # nothing lost, no temporary file left


def test_kill_9_of_the_scorer_leaves_no_decode_worker_behind(tmp_path, cache_env):
    run = make_run(tmp_path / "run", n=24, size=(1024, 1024))
    env = dict(os.environ, HF_HUB_OFFLINE="1", **cache_env)
    p = subprocess.Popen([sys.executable, "-m", "ultrabench", "-q", "--device", "cpu", "score", str(run),
                          "--stand-ins", "--metric", "is,glcm", "--workers", "2"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(children) < 2 and p.poll() is None:
        children = {int(c) for c in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()} \
            if Path(f"/proc/{p.pid}/task/{p.pid}/children").exists() else set()
        time.sleep(0.05)
    if len(children) < 2:
        p.kill()
        pytest.skip("the scorer finished before its decode workers could be seen")
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.1)
    alive = [c for c in children if Path(f"/proc/{c}").exists()
             and "zombie" not in Path(f"/proc/{c}/status").read_text().lower()]
    assert not alive, f"decode workers {alive} outlived the scorer"
