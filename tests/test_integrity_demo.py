"""`ultrabench demo --fresh` deletes only a folder an earlier demo made (it leaves a marker file)."""

from typer.testing import CliRunner

from ultrabench.cli import app
from ultrabench.demo import MARKER, _claim_folder


def test_fresh_refuses_a_folder_the_demo_did_not_make(tmp_path):
    run = tmp_path / "my-run"
    (run / "tiny-sd" / "64x64").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (run / "tiny-sd" / "64x64" / "b0001__s1.png").write_bytes(b"precious")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for args in (["demo", "--fresh", "-o", str(run)], ["demo", "-o", str(run)]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2
        what = "not deleted" if "--fresh" in args else "left alone"
        assert r.output == (f"error: demo: {run} was not made by `ultrabench demo` (no {MARKER} file in it), so it "
                            f"is {what}; choose another --out\n")
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert (run / "tiny-sd" / "64x64" / "b0001__s1.png").read_bytes() == b"precious"


def test_fresh_deletes_a_demo_folder_and_accepts_a_missing_or_empty_one(tmp_path):
    demo = tmp_path / "demo"
    (demo / "tiny-sd").mkdir(parents=True)
    (demo / MARKER).write_text("made by the demo")
    _claim_folder(demo, fresh=True)
    assert not demo.exists()
    _claim_folder(demo, fresh=True)  # nothing there: nothing to do
    demo.mkdir()
    _claim_folder(demo, fresh=True)  # empty: nothing to lose
    assert not demo.exists()
