"""CLI behaviours a first hour of use runs into: one-line errors for bad numbers, lists that take
commas, reports without writes or elsewhere, Ctrl-C while a model loads, quiet libraries, the
small commands saying something useful."""

import json
import os
import signal

import pytest

from cli_helpers import invoke, snapshot

from ultrabench.methods import GeneratedImage, Method


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = invoke("--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 2, "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("args,message", [
    (["--batch-size", "0"], "Invalid value for '--batch-size': Input should be greater than or equal to 1"),
    (["--workers", "x"], "Invalid value for '--workers': Input should be a valid integer"),
    (["--patch-crops", "-1"], "Invalid value for '--patch-crops': Input should be greater than or equal to 1"),
    (["--bogus"], "No such option: --bogus"),
])
def test_bad_options_are_one_line_and_exit_2_writing_nothing(run, args, message):
    before = snapshot(run)
    r = invoke("score", run, *args)
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and r.output.startswith(f"error: {message}")
    assert r.output.rstrip().endswith("; see `ultrabench score --help`")
    assert snapshot(run) == before


def test_report_terminal_writes_nothing_and_out_writes_elsewhere(run, tmp_path):
    before = snapshot(run)
    r = invoke("report", run, "-f", "terminal")
    assert r.exit_code == 0, r.output
    assert "tiny-sd" in r.output and not (run / "report").exists()
    assert snapshot(run) == before
    out = tmp_path / "shared"
    r = invoke("report", run, "-f", "md,csv", "--extra", "kid,memory", "--out", out)  # comma lists
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["table1.csv", "table1.md"]
    assert "| KID ↓ | Peak memory (GiB) ↓ |" in (out / "table1.md").read_text()
    assert snapshot(run) == before


class SlowToLoad(Method):
    """Its load() is where the user presses Ctrl-C."""

    name = "slow-to-load"
    generated = []

    def load(self):
        os.kill(os.getpid(), signal.SIGINT)

    def generate(self, prompts, seeds, res):
        from PIL import Image

        SlowToLoad.generated += list(prompts)
        return [GeneratedImage(Image.new("RGB", (res.width, res.height)), {}) for _ in prompts]


def test_ctrl_c_while_the_model_loads_stops_before_the_first_unit(tmp_path, register_method):
    register_method(SlowToLoad)
    out = tmp_path / "run"
    r = invoke("-q", "generate", "-m", "slow-to-load", "--res", "64x64", "-n", 2, "--out", out)
    assert r.exit_code == 130
    assert "stopped early on request (Ctrl-C); rerun the same command to resume" in r.output
    assert SlowToLoad.generated == [] and list(out.rglob("*.png")) == [] and list(out.rglob("b*.json")) == []


def _bars_on():
    import warnings

    from transformers.utils import logging as tlog

    with warnings.catch_warnings():  # huggingface_hub keeps the value the variable had at its import
        warnings.simplefilter("ignore")
        tlog.enable_progress_bar()


def test_quiet_turns_off_the_progress_bars_of_model_libraries(run, monkeypatch):
    from transformers.utils import logging as tlog

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")  # restored afterwards
    _bars_on()
    try:
        assert invoke("-q", "status", run).exit_code == 0
        assert not tlog.is_progress_bar_enabled()  # e.g. transformers' "Loading weights" bar
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    finally:
        _bars_on()


def test_prompts_export_txt_works_and_says_ids_become_line_numbers(tmp_path):
    dest = tmp_path / "p.txt"
    r = invoke("prompts", "export", dest, "-n", 3)
    assert r.exit_code == 0, r.output
    assert len(dest.read_text(encoding="utf-8").splitlines()) == 3
    assert "note: a .txt file holds no ids: read back, these prompts get ids l0001-l0003" in r.output


def test_a_csv_with_a_byte_order_mark_keeps_its_id_column(tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes("id,prompt\nk1,a cat\nk2,a dog\n".encode("utf-8-sig"))
    r = invoke("prompts", "show", csv)
    assert r.exit_code == 0
    assert [line.split("\t")[0] for line in r.output.splitlines() if "\t" in line] == ["k1", "k2"]


def test_weights_list_says_why_a_method_has_no_files():
    r = invoke("weights", "list", "-m", "tiny-sd,import")
    assert r.exit_code == 0
    assert r.output.splitlines() == ["tiny-sd: no weight files (random-weight stand-in, built locally)",
                                     "import: no weight files (its images are imported)"]


def test_weights_fetch_exits_1_when_a_file_failed(monkeypatch):
    from ultrabench.weights import WeightResolver

    def no_network(self, wf):
        raise OSError("network is unreachable")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(WeightResolver, "download", no_network)
    r = invoke("weights", "fetch", "-m", "pixart-sigma")
    assert r.exit_code == 1
    failed = [line for line in r.output.splitlines() if "FAILED (OSError: network is unreachable)" in line]
    assert failed and r.output.strip().splitlines()[-1] == (
        f"error: {len(failed)} weight file(s) could not be fetched (FAILED above)")


def test_weights_fetch_metric_fetches_only_what_that_metric_needs(monkeypatch, tmp_path):
    from ultrabench.weights import WeightResolver

    asked = []

    def download(self, wf):
        asked.append(wf.label)
        target = tmp_path / wf.label
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x" * 1500)
        return target

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(WeightResolver, "download", download)
    r = invoke("--weights-dir", tmp_path / "w", "weights", "fetch", "--metric", "fid")
    assert r.exit_code == 0, r.output
    assert asked == ["toshas/torch-fidelity/weights-inception-2015-12-05-6726825d.pth"]
    asked.clear()
    assert invoke("weights", "fetch", "--method", "flux-dev-2k").exit_code == 0
    assert asked == ["black-forest-labs/FLUX.1-dev"]


def test_weights_list_has_a_header_sizes_and_gating(tmp_path):
    w = tmp_path / "w" / "toshas" / "torch-fidelity"
    w.mkdir(parents=True)
    (w / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"x" * 2500)
    r = invoke("--weights-dir", tmp_path / "w", "weights", "list", "--metric", "fid", "--json")
    (row,) = json.loads(r.output)
    assert (row["status"], row["size"], row["gated"]) == ("ok", "2.5 KB", "no")  # its size on disk
    rows = json.loads(invoke("weights", "list", "-m", "flux-dev-2k,pixart-sigma", "--json").output)
    assert {r["owner"]: r["gated"] for r in rows} == {"flux-dev-2k": "yes", "pixart-sigma": "unknown"}
    assert all(r["size"] == "unknown" or r["size"].endswith("(declared)") for r in rows)  # none is here
    r = invoke("weights", "list", "-m", "flux-dev-2k")
    header = next(line for line in r.output.splitlines() if "status" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")] == ["for", "role", "status", "size", "gated", "file", "where"]


def test_doctor_stand_ins_checks_a_machine_without_weights():
    r = invoke("doctor", "--stand-ins")
    assert r.exit_code == 0, r.output
    assert "tiny-sd: no weight files (random-weight stand-in, built locally)" in r.output
    assert "metrics: random-weight stand-in extractors (--stand-ins), no weight files needed" in r.output
    assert r.output.strip().splitlines()[-1] == "ready"


def test_doctor_names_the_official_checkout_a_method_needs(monkeypatch, tmp_path):
    monkeypatch.delenv("ULTRABENCH_FOURISCALE_REPO", raising=False)
    r = invoke("doctor", "-m", "fouriscale", "--res", "2048x2048")
    assert r.exit_code == 1
    assert ("fouriscale: official code MISSING: clone github.com/LeonHLJ/FouriScale, set repo = \"PATH\" in the "
            "method's settings (or ULTRABENCH_FOURISCALE_REPO), then `ultrabench env create fouriscale --repo PATH`"
            ) in r.output
    monkeypatch.setenv("ULTRABENCH_FOURISCALE_REPO", str(tmp_path))
    r = invoke("doctor", "-m", "fouriscale", "--res", "2048x2048")
    assert (f"fouriscale: official code at {tmp_path}, environment MISSING: run "
            f"`ultrabench env create fouriscale --repo {tmp_path}`") in r.output
