"""Images made elsewhere (DALL-E 3, Midjourney, any new method) brought into a run folder.

A mapping file (CSV with a header, or JSONL) names one image per prompt id: `prompt_id,file` plus
optional `seed` and free provenance columns (`model`, `version`, `quality`, `revised_prompt`, ...).
Each image's real size is checked against the requested resolution; a mismatch is rejected (an
`error` record saying why) or, with `policy="resize"`, resized with Lanczos and recorded as such.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ultrabench.errors import UsageError
from ultrabench.methods.base import GeneratedImage, Method, SizePlan
from ultrabench.resolution import Resolution, parse_resolution

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
POLICIES = ("reject", "resize")


class Imported(Method):
    name = "import"
    display_name = "Imported"
    aliases = ("imported", "external")
    description = "images produced elsewhere, imported from a folder and a mapping file (`ultrabench import`)"
    family = "baseline"
    kind = "import"
    licence = "the terms of the service that made the images (e.g. OpenAI's for DALL-E 3)"
    default_settings = {}

    def plan(self, res: Resolution) -> SizePlan:
        # Whatever was produced elsewhere; each image's real size is checked when it is imported.
        return SizePlan.native_at(res)

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        raise UsageError("imported images are not generated: use `ultrabench import RUN --name NAME --folder DIR "
                         "--mapping FILE --resolution HxW`")


@dataclass
class ImportReport:
    name: str
    resolution: Resolution
    imported: list[str] = field(default_factory=list)  # prompt ids written with status ok
    resized: list[str] = field(default_factory=list)  # subset of `imported`
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (prompt id, reason)
    extra_files: list[str] = field(default_factory=list)  # in the folder, not in the mapping

    def __str__(self) -> str:
        return self.summary()

    def rejected_lines(self) -> list[str]:
        """One line per rejected file: prompt id and why."""
        return [f"rejected {pid}: {reason}" for pid, reason in self.rejected]

    def summary(self) -> str:
        parts = [f"{len(self.imported)} imported into {self.name}/{self.resolution.key}"]
        if self.resized:
            parts.append(f"{len(self.resized)} resized")
        if self.rejected:
            parts.append(f"{len(self.rejected)} rejected (of {len(self.rejected) + len(self.imported)})")
        if self.extra_files:
            parts.append(f"{len(self.extra_files)} extra file(s) not in the mapping ignored")
        return "; ".join(parts)


def read_mapping(path: str | Path) -> list[dict[str, Any]]:
    """Rows with at least `prompt_id` and `file` (CSV with a header, or JSONL)."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"mapping file {p} does not exist")
    rows: list[dict[str, Any]] = []
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{p}:{n}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise UsageError(f"{p}:{n}: each line must be a JSON object")
            rows.append(row)
    else:
        with open(p, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not part of a column name
            rows = [dict(r) for r in csv.DictReader(f)]
    out = []
    for n, row in enumerate(rows, 1):
        pid = row.get("prompt_id", row.get("id"))
        fname = row.get("file")
        if pid in (None, "") or fname in (None, ""):
            raise UsageError(f"{p}: row {n} needs 'prompt_id' and 'file' (got {sorted(row)})")
        out.append({**row, "prompt_id": str(pid).strip(), "file": str(fname).strip()})
    if not out:
        raise UsageError(f"mapping file {p} has no rows")
    return out


def import_images(
    run_dir: str | Path,
    name: str,
    folder: str | Path,
    mapping: str | Path,
    resolution: Resolution | str,
    *,
    policy: str = "reject",
    display_name: str | None = None,
    resize_filter: str = "lanczos",
    prompt_set=None,
) -> ImportReport:
    """Import the mapped images; `prompt_set` (Prompt objects) becomes the run's prompts.jsonl when
    the folder has none yet, written only once the mapping has passed every check."""
    from PIL import Image

    from baselines._common import resize_exact
    from ultrabench.hashing import sha256_file
    from ultrabench.runstore import RunStore, Unit, check_method_name
    from ultrabench.scoring.decode import to_rgb

    check_method_name(name)
    if policy not in POLICIES:
        raise UsageError(f"import policy {policy!r} is not one of {', '.join(POLICIES)}")
    res = resolution if isinstance(resolution, Resolution) else parse_resolution(str(resolution))
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"image folder {folder} does not exist")
    rows = read_mapping(mapping)

    seen_ids: dict[str, int] = {}
    seen_files: dict[str, str] = {}
    for row in rows:
        pid, fname = row["prompt_id"], row["file"]
        if pid in seen_ids:
            raise UsageError(f"mapping {mapping}: prompt id {pid!r} appears more than once")
        seen_ids[pid] = 1
        key = str((folder / fname).resolve())
        if key in seen_files:
            raise UsageError(f"mapping {mapping}: file {fname!r} is mapped to both {seen_files[key]!r} and {pid!r}")
        seen_files[key] = pid
    missing = [r["file"] for r in rows if not (folder / r["file"]).is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UsageError(f"{len(missing)} mapped file(s) not in {folder}: {', '.join(missing[:3])}{more}")

    store = RunStore(run_dir)
    prompts = {str(p["id"]): p for p in store.read_prompts()}
    new_prompts = None
    if not prompts and prompt_set:
        new_prompts = list(prompt_set)
        prompts = {p.id: {"id": p.id, "prompt": p.text} for p in new_prompts}
    if prompts:
        unknown = [r["prompt_id"] for r in rows if r["prompt_id"] not in prompts]
        if unknown:
            where = f"the spec's {len(prompts)} prompts" if new_prompts else store.root / "prompts.jsonl"
            raise UsageError(f"{len(unknown)} prompt id(s) not in {where}: "
                             f"{', '.join(unknown[:3])}{' ...' if len(unknown) > 3 else ''}")

    report = ImportReport(name=name, resolution=res)
    mapped = set(seen_files)
    report.extra_files = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and str(p.resolve()) not in mapped
    )
    store.ensure_writable()
    store.clean_leftovers()
    if new_prompts:
        store.write_prompts(new_prompts)  # imported images are scored against these texts
    for row in rows:
        pid = row["prompt_id"]
        src = folder / row["file"]
        try:
            seed = int(row.get("seed") or 0)
        except ValueError:
            raise UsageError(f"mapping {mapping}: seed {row.get('seed')!r} of {pid!r} is not an integer") from None
        prompt = prompts.get(pid, {}).get("prompt", row.get("prompt", ""))
        unit = Unit(method=name, resolution=res, prompt_id=pid, prompt=str(prompt or ""), seed=seed)
        try:
            with Image.open(src) as im:
                im.load()
                fmt = im.format
                # the scorer's own conversion: EXIF orientation applied (stored as shown), 16-bit
                # data by its high byte, alpha dropped, so the pixels kept are the pixels scored
                rgb, conversion = to_rgb(im)
            image = Image.fromarray(rgb)
        except Exception as e:
            reason = f"{row['file']} is not a readable image ({e})"
            report.rejected.append((pid, reason))
            store.write_unit(unit, _record(row, src, None, None, policy, display_name, "error", reason))
            continue
        native = Resolution(image.height, image.width)
        provenance = {k: v for k, v in row.items() if k not in ("prompt_id", "id", "file", "seed") and v not in (None, "")}
        base = _record(row, src, native, sha256_file(src), policy, display_name, "ok", None)
        base["source_format"] = fmt
        base["conversion"] = conversion
        base["provenance"] = provenance
        if native != res:
            reason = f"{row['file']} is {native.key}, requested {res.key}"
            if policy == "reject":
                base.update(status="error", error=f"size mismatch: {reason} (policy reject)")
                report.rejected.append((pid, reason))
                store.write_unit(unit, base)
                continue
            image = resize_exact(image, res, resize_filter)
            base.update(resize_filter=resize_filter, support="native-then-resized")
            report.resized.append(pid)
        store.write_unit(unit, base, image)
        report.imported.append(pid)
    return report


def _record(row, src: Path, native, sha, policy, display_name, status, error) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "status": status, "kind": "import", "source_file": str(src), "source_sha256": sha, "policy": policy,
        "native": [native.height, native.width] if native else None, "support": "native",
        "display_name": display_name, "stages": {}, "latency": None, "peak_memory_bytes": None,
    }
    if error:
        rec["error"] = error
    return rec
