"""The HTML gallery shows, for each image, the crops that were scored: boxes over the thumbnail at
the recorded coordinates and a list of them."""

import json
import os
import re

import pandas as pd

from cli_helpers import invoke
from scoring_helpers import make_run


def test_the_gallery_draws_and_lists_the_scored_crops(tmp_path):
    from ultrabench.api import score

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=2, size=(320, 400))
    score(run, metrics=["clip-patch", "seam"], stand_ins=True, workers=0, bootstrap=0, progress=False, device="cpu",
          align_crops=2, reference_method="m")
    r = invoke("report", run, "-f", "html")
    assert r.exit_code == 0, r.output
    html = (run / "report" / "report.html").read_text()
    rows = pd.read_parquet(run / "scores" / "per_image.parquet")
    key = "crops-native(n=2,seed=0,size=224)"
    for _, row in rows.iterrows():
        section = html[html.index(f'data-prompt="{row["prompt_id"]}"'):]
        section = section[:section.index("</section>")]
        drawn = re.findall(r'<span class="crop" data-view="([^"]+)" style="left:([\d.]+)%;top:([\d.]+)%;'
                           r'width:([\d.]+)%;height:([\d.]+)%"', section)
        boxes = json.loads(row["crops"])[key]
        assert len(drawn) == 2 and {d[0] for d in drawn} == {key}
        for (_, left, top, width, height), (t, lft, h, w) in zip(drawn, boxes):
            assert (float(left), float(top)) == (round(100 * lft / 400, 3), round(100 * t / 320, 3))
            assert (float(width), float(height)) == (round(100 * w / 400, 3), round(100 * h / 320, 3))
        assert f"2 crops of 224 x 224, top,left: {boxes[0][0]},{boxes[0][1]}; {boxes[1][0]},{boxes[1][1]}" in section
