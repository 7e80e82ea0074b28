"""The images a score covers: a run folder's finished units, or a plain folder of images.

A plain folder (no run.json, no unit records: the clean-fid use case) is scored as one method named
after the folder, grouped by each image's own size, with prompts from an optional prompt file whose
ids are the image paths relative to the folder, without extension (`cats/01.png` -> `cats/01`).
Without prompts, the metrics that need one are skipped with a note.

Its results never go into the folder itself (clean-fid and torch-fidelity write nothing beside
the user's images): they go to `--out DIR`, or by default to a folder of ultrabench's cache keyed
by the folder's absolute path (`results_folder`), where `report FOLDER` finds them again.
"""

from __future__ import annotations

import re
from pathlib import Path

from ultrabench.errors import UsageError
from ultrabench.runstore import RunStore, UnitRecord


def is_run_folder(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / "run.json").is_file() or (folder / "prompts.jsonl").is_file() or \
        next(iter(RunStore(folder).records(statuses=None)), None) is not None


def plain_results_folder(folder: Path) -> Path:
    """Where a plain folder's `scores/` and `report/` go by default:
    `<ULTRABENCH_CACHE>/results/<folder name>-<12 hex digits of its absolute path's sha1>`."""
    import hashlib

    from ultrabench.weights import cache_root

    absolute = Path(folder).resolve()
    token = hashlib.sha1(str(absolute).encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", absolute.name).strip("-.") or "images"
    return cache_root() / "results" / f"{name}-{token}"


def locate_results(folder: Path) -> tuple[Path, Path, bool]:
    """(the folder holding the images or unit records, the folder holding `scores/`, plain?) for a
    folder given to `report`: a run folder is both; a plain folder of images has its results in the
    cache (`plain_results_folder`); a results folder (`score --out DIR`) names its images folder in
    its summary. A plain folder scored before results moved out keeps its own `scores/`."""
    import json

    folder = Path(folder)
    if is_run_folder(folder):
        return folder, folder, False
    summary_path = folder / "scores" / "summary.json"
    if summary_path.is_file():
        try:
            images = json.loads(summary_path.read_text(encoding="utf-8")).get("images_dir")
        except (OSError, ValueError):
            images = None
        return (Path(images) if images else folder), folder, True
    return folder, plain_results_folder(folder), True


def folder_records(folder: Path, prompts: str | Path | None = None) -> list[UnitRecord]:
    """One `ok` record per image of a plain folder (nothing is written)."""
    from PIL import Image

    from ultrabench.scoring.reference import list_images

    folder = Path(folder)
    texts = {}
    if prompts is not None:
        from ultrabench.prompts import load_prompts

        texts = {p.id: p.text for p in load_prompts(str(prompts))}
    method = re.sub(r"[^a-z0-9._-]+", "-", folder.resolve().name.lower()).strip("-.") or "images"
    out = []
    for path in list_images(folder):
        try:
            with Image.open(path) as im:  # the header only
                w, h = im.size
        except Exception:
            h = w = 0  # the scorer names the unreadable file
        pid = path.relative_to(folder).with_suffix("").as_posix()
        data = {"method": method, "resolution": f"{h}x{w}", "prompt_id": pid, "prompt": texts.get(pid, ""),
                "seed": 0, "sample_index": 0, "status": "ok", "image": path.name, "plain_folder": True}
        out.append(UnitRecord(data, path.with_suffix(".json")))
    if texts:
        unmatched = [r.prompt_id for r in out if r.prompt_id not in texts]
        if unmatched:
            raise UsageError(f"prompt file {prompts} has no prompt for {len(unmatched)} image(s) of {folder}, e.g. "
                             f"{unmatched[0]!r} (ids are image paths relative to the folder, without extension)")
    return out
