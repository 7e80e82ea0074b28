"""Every method runs in its authors' precision unless a spec entry's `dtype` or `--dtype` says otherwise,
and says so: `ultrabench methods --json`, the settings hash, each unit record and the report. The support
matrix also says, per method and size, whether what runs is the method as its authors ran it; the
report footnotes each cell where it is not."""

import csv
import io
import json

import pytest

from cli_helpers import invoke

from ultrabench.errors import UsageError
from ultrabench.methods.base import AsRun, SizePlan
from ultrabench.methods.registry import create_method, get_method_class
from ultrabench.resolution import Resolution
from ultrabench.runspec import settings_hash, spec_differences
from ultrabench.tiny.methods import TinySD

# The authors' precision of every method (each adapter cites its source next to `default_dtype`).
AUTHORS_DTYPE = {
    "ultrapixel": "bf16-mix", "pixart-sigma": "float16", "base-sr": "float16", "demofusion": "float16",
    "scalecrafter": "float16", "fouriscale": "float16", "elasticdiffusion": "float32", "import": None,
    "sana-4k": "bfloat16", "sana-2k": "bfloat16", "flux-dev-2k": "bfloat16", "hiflow": "float16", "imax": "bfloat16",
    "ultraflux": "bfloat16", "hidiffusion": "float16", "stable-cascade-direct": "bfloat16",
}


def test_methods_json_gives_each_methods_default_dtype():
    r = invoke("methods", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {row["method"]: row["dtype"] for row in rows} == AUTHORS_DTYPE
    assert all(row["precision"] for row in rows)
    up = next(row for row in rows if row["method"] == "ultrapixel")
    assert "Stage B float16" in up["precision"] and "Stage A and CLIP float32" in up["precision"]
    tiny = {row["method"]: row["dtype"] for row in json.loads(invoke("methods", "--json", "--all").output)}
    assert tiny["tiny-sd"] is None  # a stand-in has no authors' precision: it follows --dtype


@pytest.mark.parametrize("name", ["demofusion", "pixart-sigma", "base-sr", "sana-4k", "flux-dev-2k", "scalecrafter",
                                  "hiflow", "ultraflux"])
def test_dtype_overrides_the_authors_precision_only_when_given(name):
    authors = AUTHORS_DTYPE[name]
    m = create_method(name)
    assert (m.dtype, m.dtype_from, m.settings["dtype"]) == (authors, "authors", authors)
    assert m.recorded_settings()["dtype"] == authors
    other = "float32" if authors != "float32" else "bfloat16"
    m = create_method(name, dtype=other)  # --dtype
    assert (m.dtype, m.dtype_from, m.settings["dtype"]) == (other, "--dtype", other)
    m = create_method(name, {"dtype": "bfloat16"}, dtype="float32")  # the spec entry's own wins over --dtype
    assert (m.dtype, m.dtype_from, m.recorded_settings()["dtype"]) == ("bfloat16", "spec", "bfloat16")
    with pytest.raises(UsageError, match="dtype = 'half' is not one of"):
        get_method_class(name).check_settings({"dtype": "half"})


def test_official_jobs_carry_the_resolved_dtype(tmp_path):
    m = create_method("scalecrafter", {"repo": str(tmp_path)})
    job = m.make_job(["a"], [1], Resolution(2048, 2048), tmp_path, Resolution(2048, 2048))
    assert job["dtype"] == "float16"
    m = create_method("scalecrafter", {"repo": str(tmp_path)}, dtype="float32")
    assert m.make_job(["a"], [1], Resolution(2048, 2048), tmp_path, Resolution(2048, 2048))["dtype"] == "float32"


def test_ultrapixel_precision_is_its_dtype():
    up = create_method("ultrapixel")
    assert (up.dtype, up.dtype_from, up.settings["precision"]) == ("bf16-mix", "authors", "bf16")
    up = create_method("ultrapixel", dtype="float32")
    assert (up.dtype, up.dtype_from, up.settings["precision"]) == ("float32", "--dtype", "fp32")
    up = create_method("ultrapixel", {"precision": "fp32"}, dtype="bfloat16")
    assert (up.dtype, up.dtype_from) == ("float32", "spec")
    with pytest.raises(UsageError) as e:
        create_method("ultrapixel", dtype="float16")
    assert str(e.value) == ("method 'ultrapixel' runs in bfloat16, float32, not --dtype float16; give its spec entry "
                            "its own precision setting")
    assert create_method("stable-cascade-direct").dtype == "bfloat16"


# settings_hash of each method's defaults as ultrabench computed them before the precision defaults
# moved to `default_dtype` (commit 5977d56): an unset dtype hashes as the authors' precision, so
# the run folders of these methods keep their units.
HASHES_BEFORE = {"sana-4k": "1c21005ad710c3de", "flux-dev-2k": "74c322286d06bd44", "scalecrafter": "2aaa5afde6945ddb",
                 "hiflow": "fd6c3d50db39e31f", "ultrapixel": "f3172115f4c4b2f2"}


@pytest.mark.parametrize("name", sorted(HASHES_BEFORE))
def test_an_unset_dtype_keeps_the_hash_of_old_run_folders(name):
    m = create_method(name)
    assert settings_hash(name, m.hashed_settings()) == HASHES_BEFORE[name]


def test_a_method_that_ran_in_float32_before_is_refused_naming_the_dtype():
    """PixArt-Sigma used to run in the global --dtype (float32), unhashed: its old units are not
    float16 units, so a run folder made then refuses the new default, and says why."""
    new = create_method("pixart-sigma")
    old_settings = {k: v for k, v in new.settings.items() if k != "dtype"}
    run_info = {"settings": {"pixart-sigma": {"method": "pixart-sigma", "settings": old_settings,
                                              "hash": settings_hash("pixart-sigma", old_settings)}}}
    bound = {"pixart-sigma": {"method": "pixart-sigma", "settings": new.settings,
                              "hash": settings_hash("pixart-sigma", new.settings)}}
    assert spec_differences(run_info, {}, bound) == [("settings of pixart-sigma", "dtype '(unset)' -> 'float16'")]


class AuthoredTinySD(TinySD):
    """tiny-sd with an authors' precision and a size its authors never ran, like a real baseline."""

    name = "tiny-sd-authored"
    display_name = "Authored tiny"
    default_dtype = "bfloat16"
    default_settings = {**TinySD.default_settings, "dtype": None}

    def plan(self, res):
        plan = super().plan(res)
        if res == Resolution(64, 96):
            plan = plan.but(AsRun.NEW_SIZE, "Authored tiny at 64x96: a size the authors never ran")
        return plan


def test_records_and_report_show_the_precision_and_footnote_what_runs(register_method, tmp_path):
    register_method(AuthoredTinySD)
    out = tmp_path / "run"
    gen = ["--device", "cpu", "-q", "generate", "-m", "tiny-sd-authored", "-m", "tiny-sd", "-n", 2, "--out", out]
    r = invoke(*gen, "--res", "64x64,64x96")
    assert r.exit_code == 0, r.output
    recs = {p.parent.parent.name + " " + p.parent.name: json.loads(p.read_text()) for p in sorted(out.rglob("*__s*.json"))}
    a64, a96, t64 = recs["tiny-sd-authored 64x64"], recs["tiny-sd-authored 64x96"], recs["tiny-sd 64x64"]
    assert (a64["dtype"], a64["dtype_from"], a64["settings"]["dtype"]) == ("bfloat16", "authors", "bfloat16")
    assert (t64["dtype"], t64["dtype_from"]) == ("float32", "default")
    assert (a64["as_run"], a64["as_run_note"]) == ("as-authors", None)
    assert (a96["as_run"], a96["as_run_note"]) == ("new-size", "Authored tiny at 64x96: a size the authors never ran")

    r = invoke("-q", "report", out, "-f", "md", "-f", "csv", "-f", "json", "-f", "latex", "-f", "html")
    assert r.exit_code == 0, r.output
    rep = out / "report"
    md = (rep / "table1.md").read_text()
    head = next(line for line in md.splitlines() if line.startswith("| H x W"))
    assert head.startswith("| H x W | Method | N | Precision |")
    note = "Authored tiny at 64x96: a size the authors never ran"
    mark = next(line for line in md.splitlines() if line.endswith(f"{note}  ")).split("</sup>")[0][len("<sup>"):]
    assert f"| Authored tiny<sup>{mark}</sup> | 2 | bfloat16 |" in md
    assert "| Authored tiny | 2 | bfloat16 |" in md and "| tiny-sd | 2 | float32 |" in md  # 64x64: no footnote
    rows = list(csv.DictReader(io.StringIO((rep / "table1.csv").read_text())))
    by = {(row["method"], row["resolution"]): row for row in rows}
    assert by[("tiny-sd-authored", "64x96")]["precision"] == "bfloat16"
    assert f"{note} [method]" in by[("tiny-sd-authored", "64x96")]["notes"]
    assert note not in by[("tiny-sd-authored", "64x64")]["notes"]
    data = json.loads((rep / "table1.json").read_text())
    jrow = next(row for row in data["rows"] if row["method"] == "tiny-sd-authored" and row["resolution"] == "64x96")
    assert jrow["precision"] == "bfloat16" and {"mark": jrow["footnote"], "text": note} in data["footnotes"]
    tex = (rep / "table1.tex").read_text()
    assert rf"Authored tiny\textsuperscript{{{mark}}} & 2 & bfloat16" in tex
    html = (rep / "report.html").read_text()
    assert f"Authored tiny<sup>{mark}</sup>" in html and '<td class="l" data-col="precision">bfloat16</td>' in html

    r = invoke("report", out, "-f", "terminal")
    assert r.exit_code == 0 and f"Authored tiny({mark})" in r.output and f"({mark}) {note}" in r.output

    # a run made before records said what runs: the report asks the method's plan instead
    for p in (out / "tiny-sd-authored" / "64x96").glob("*.json"):
        rec = json.loads(p.read_text())
        del rec["as_run"], rec["as_run_note"]
        p.write_text(json.dumps(rec))
    r = invoke("-q", "report", out, "-f", "md")
    assert r.exit_code == 0 and f"| Authored tiny<sup>{mark}</sup> | 2 | bfloat16 |" in (rep / "table1.md").read_text()

    # --dtype overrides the authors' precision, which changes the units: refused, naming the dtype
    r = invoke("--dtype", "float32", *gen, "--res", "64x64")
    assert r.exit_code == 2 and "settings of tiny-sd-authored dtype 'bfloat16' -> 'float32'" in r.output


def test_plan_says_what_runs_when_it_is_not_the_authors_method():
    demofusion = create_method("demofusion")
    p = demofusion.plan(Resolution(1024, 1792))
    assert p.as_run is AsRun.OTHER_METHOD and p.native == Resolution(584, 1024)
    assert p.as_run_note.startswith("DemoFusion at 1024x1792 is plain SDXL at 584x1024, resized 1.75x")
    assert demofusion.plan(Resolution(2048, 2048)).as_run is AsRun.AUTHORS
    sc = create_method("scalecrafter")
    p = sc.plan(Resolution(4096, 2048))
    assert p.as_run is AsRun.NEW_SIZE and "configs/sdxl_4096x2048.yaml is 2048 high and 4096 wide" in p.as_run_note
    assert sc.plan(Resolution(2048, 4096)).as_run is AsRun.AUTHORS  # the config's own orientation
    cog = create_method("scalecrafter", {"unlisted": "cog"}).plan(Resolution(1024, 1792))
    assert cog.as_run is AsRun.NEW_SIZE and "cog wrapper's rule" in cog.as_run_note
    assert SizePlan.native_at(Resolution(8, 8)).as_run is AsRun.AUTHORS


def test_a_dtype_the_method_cannot_run_in_is_refused_from_the_flag_as_from_the_spec():
    """ElasticDiffusion runs float32, or float16 through its low_vram switch: bfloat16 is one line,
    whether the spec or --dtype asks for it."""
    assert create_method("elasticdiffusion", dtype="float16").dtype == "float16"
    with pytest.raises(UsageError) as e:
        create_method("elasticdiffusion", dtype="bfloat16")
    assert str(e.value) == "method 'elasticdiffusion': --dtype bfloat16 refused: its dtype is not one of 'float32', 'float16'"
    with pytest.raises(UsageError):
        create_method("elasticdiffusion", {"dtype": "bfloat16"})
