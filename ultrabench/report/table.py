"""The Table-1 model: rows grouped by resolution, one per method, cells with values, intervals,
footnoted gaps and (optionally) the paper's published value beside each measured one.

Every renderer (Markdown, LaTeX, CSV, JSON, terminal, HTML) reads this model, so they always agree.
"""

from __future__ import annotations

import json
import math
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ultrabench.metrics.registry import METRICS, PAPER_METRICS
from ultrabench.report.names import display_name_for, method_sort_key
from ultrabench.resolution import parse_resolution
from ultrabench.scoring.values import warned_values_line

RANDOM_WEIGHTS_WARNING = (
    "WARNING: these numbers come from random stand-in weights and mean nothing; "
    "they only show that the pipeline runs."
)
PAPER_ONLY = "in the paper, not in this run"
NOT_SCORED = "quality not scored: run `ultrabench score` on this run folder"
NEWER_THAN_SCORES = "generated after the last `ultrabench score` of this run folder: score it again"


@dataclass
class Column:
    key: str  # metric name from the registry, or "latency" / "memory" / "winrate"
    header: str
    arrow: str  # "↑", "↓" or "" when no direction makes sense
    higher_is_better: bool | None  # None: never bolded
    decimals: int
    scale: float = 1.0  # value shown = stored value * scale (win rate in %, memory in GiB)
    unit: str = ""
    paper: bool = False  # the paper printed this column


@dataclass
class Cell:
    value: float | None = None
    ci95: list[float] | None = None
    n: int | None = None
    note: str | None = None  # why the value is missing (becomes a footnote)
    remark: str | None = None  # a footnote on a value that is there (e.g. latency over fewer images than N)
    stale: bool = False  # the value was scored on images that changed since (its remark says which)
    best: bool = False
    paper: float | None = None
    paper_note: str | None = None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.paper is None:
            return None
        return self.value - self.paper


@dataclass
class Row:
    resolution: str
    method: str
    display: str
    n: int | None
    cells: dict[str, Cell]
    in_run: bool = True  # False: a paper-only row shown for comparison
    precision: str | None = None  # the dtype(s) its units ran in, from their records
    note: str | None = None  # a footnote on the row: not the method as its authors ran it (what runs instead)


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row]
    reference_method: str
    compare_paper: bool = False
    ci: bool = False
    random_weights: bool = False
    scored: bool = True
    footnotes: list[str] = field(default_factory=list)  # ordered, unique; index -> mark
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def mark(self, reason: str) -> str:
        """Footnote mark for a reason, allocated in first-use order: a, b, c, ..."""
        if reason not in self.footnotes:
            self.footnotes.append(reason)
        i = self.footnotes.index(reason)
        letters = string.ascii_lowercase
        return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]

    def groups(self) -> list[tuple[str, list[Row]]]:
        out: list[tuple[str, list[Row]]] = []
        for row in self.rows:
            if not out or out[-1][0] != row.resolution:
                out.append((row.resolution, []))
            out[-1][1].append(row)
        return out

    @property
    def has_precision(self) -> bool:
        """Whether any row knows its precision (the renderers then add a Precision column)."""
        return any(r.precision for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["footnotes"] = [{"mark": self.mark(r), "text": r} for r in self.footnotes]
        for row, drow in zip(self.rows, d["rows"]):
            if row.note:
                drow["footnote"] = self.mark(row.note)
            for key, cell in drow["cells"].items():
                cell["delta"] = row.cells[key].delta
                if cell["value"] is None and cell["note"]:
                    cell["footnote"] = self.mark(cell["note"])
                elif cell["value"] is not None and cell["remark"]:
                    cell["footnote"] = self.mark(cell["remark"])
        return d


# -- columns ----------------------------------------------------------------------------------
def _metric_column(name: str) -> Column:
    m = METRICS[name]
    return Column(name, m.display_name, m.arrow, m.higher_is_better, m.decimals, paper=m.paper)


def extra_columns_known() -> list[str]:
    """What `report --extra` accepts: every registered metric, a win rate per preference model, memory."""
    prefs = [m.name for m in METRICS.values() if m.preference]
    return (["winrate", "memory"] + [m for m in METRICS if m not in PAPER_METRICS]
            + [f"winrate:{m}" for m in prefs if m != "pickscore"])


def winrate_metric(key: str) -> str | None:
    """The preference metric of a win-rate column ("winrate" is PickScore's, the paper's Figure 6)."""
    if key == "winrate":
        return "pickscore"
    return key.split(":", 1)[1] if key.startswith("winrate:") else None


def build_columns(extra_columns: Iterable[str] = ()) -> list[Column]:
    cols = [_metric_column(n) for n in PAPER_METRICS]
    cols.append(Column("latency", "Latency", "↓", False, 1, unit="s", paper=True))
    for key in _normalise_extras(extra_columns):
        pref = winrate_metric(key)
        if pref is not None:
            # The reference's win rate against a row says how often that row lost; ranking rows by it
            # would mix a pairwise statistic into a per-method table, so it is never bolded.
            cols.append(Column(key, f"{METRICS[pref].display_name} win rate", "", None, 1, scale=100.0, unit="%"))
        elif key == "memory":
            cols.append(Column("memory", "Peak memory", "↓", False, 1, scale=1 / 2**30, unit="GiB"))
        else:
            cols.append(_metric_column(key))
    return cols


def _normalise_extras(extra_columns: Iterable[str]) -> list[str]:
    aliases = {"pickscore": "winrate", "win-rate": "winrate", "peak-memory": "memory", "mem": "memory",
               "compression": "compression-ratio"}
    known = extra_columns_known()
    out: list[str] = []
    for raw in extra_columns:
        key = str(raw).strip().lower().replace("_", "-")
        key = aliases.get(key, key)
        if key.endswith("-winrate"):  # hpsv2.1-winrate == winrate:hpsv2.1
            key = "winrate" if key == "pickscore-winrate" else f"winrate:{key[:-len('-winrate')]}"
        if key not in known:
            from ultrabench.errors import UsageError

            raise UsageError(f"unknown report column {raw!r}; known extra columns: {', '.join(known)}")
        if key not in out:
            out.append(key)
    return out


# -- inputs -----------------------------------------------------------------------------------
def load_summary(run_dir: str | Path) -> dict[str, Any] | None:
    p = Path(run_dir) / "scores" / "summary.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def latency_from_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """`summary.json`-style latency entries from unit records, for runs that were never scored."""
    from ultrabench.runstore import RunStore
    from ultrabench.runsummary import latency_rows

    return latency_rows(RunStore(run_dir).records(statuses=None))


def status_from_records(run_dir: str | Path) -> list[dict[str, Any]]:
    from ultrabench.runstore import RunStore
    from ultrabench.runsummary import status_rows

    return status_rows(RunStore(run_dir).records(statuses=None))


# -- the model --------------------------------------------------------------------------------
def _failure_reason(st: dict[str, Any] | None) -> str | None:
    """Why a (method, resolution) has no values at all, from the scorer's status counts."""
    if not st or int(st.get("ok", 0)) > 0:
        return None
    if int(st.get("unsupported", 0)) > 0 and not any(int(st.get(k, 0)) for k in ("oom", "error")):
        return "not supported by the method at this resolution"
    if int(st.get("oom", 0)) > 0:
        return "every image ran out of GPU memory"
    if int(st.get("error", 0)) > 0:
        return "generation failed for every image (see the unit records)"
    if int(st.get("unreadable", 0)) > 0:
        return "no readable images"
    return "no images"


# Set statistics that need two images (a covariance, an MMD estimate) where the patch variants
# have a few crops per image.
_NEEDS_TWO_IMAGES = ("fid", "kid")
WARMUP_RULE = "warm-up units (the first per method, resolution and process) are not timed"


def _missing_reason(col: Column, method: str, res: str, st: dict[str, Any] | None, s: dict[str, Any]) -> str:
    """Why a scored set has no value for a metric column, as precisely as the summary tells."""
    for e in s.get("not_computed") or []:  # the scorer's own reason (too few images, weights missing, ...)
        if e.get("metric") == col.key and e.get("method") == method and e.get("resolution") == res and e.get("reason"):
            return f"{col.header} not computed: {e['reason']}"
    if (s.get("skipped") or {}).get(col.key):
        return f"{col.header} not computed: {s['skipped'][col.key]}"
    asked = s.get("metrics")
    if asked is not None and col.key not in asked:
        return f"{col.header} was not asked for when this run was scored (`ultrabench score --metric {col.key}`)"
    if METRICS[col.key].needs_reference and not s.get("reference"):
        return f"{col.header} needs a reference set: score with --reference FOLDER or hf:<dataset>"
    ok = int(st.get("ok", 0)) if st else None
    if ok is not None and ok < 2 and col.key in _NEEDS_TWO_IMAGES:
        return f"{col.header} needs at least 2 images; this set has {ok}"
    if col.key.endswith("-patch"):
        try:
            r = parse_resolution(res)
            if min(r.height, r.width) < 299:
                return f"{col.header}: no 299 x 299 patch fits in a {res.replace('x', ' x ')} image"
        except Exception:
            pass
    return f"{col.header} not computed for this set"


def _res_key(res: str):
    try:
        return (0, parse_resolution(res))
    except Exception:
        return (1, res)


def build_table(
    summary: dict[str, Any] | None,
    *,
    records_latency: list[dict[str, Any]] | None = None,
    records_status: list[dict[str, Any]] | None = None,
    compare_paper: bool = False,
    ci: bool = False,
    extra_columns: Iterable[str] = (),
    reference_method: str = "ultrapixel",
    display_names: dict[str, str] | None = None,
    paper_any_protocol: bool = False,
) -> Table:
    columns = build_columns(extra_columns)
    for col in columns:  # the header says who beats whom: the reference method, against each row
        pref = winrate_metric(col.key)
        if pref is not None:
            col.header = f"{display_name_for(reference_method)} win rate vs row, {METRICS[pref].display_name}"
    scored = summary is not None
    s = summary or {}
    # the caller's record-based figures are current; a summary's own copies may be older
    latency = records_latency if records_latency is not None else s.get("latency") or []
    status = records_status if records_status is not None else s.get("status") or []
    not_scored = {tuple(k) for k in s.get("not_scored") or []}
    table = Table(columns, [], reference_method, compare_paper=compare_paper, ci=ci,
                  random_weights=bool(s.get("random_weights")), scored=scored)
    if table.random_weights:
        table.warnings.append(RANDOM_WEIGHTS_WARNING)
    if not scored:
        table.warnings.append("The quality columns are missing because `ultrabench score` has not run on this folder.")
    # a value's own warning (a small reference) is its cell's footnote: not a banner too
    footnoted = {warned_values_line(e["metric"], e["warning"]) for e in s.get("sets") or []
                 if e.get("warning") and any(col.key == e["metric"] for col in columns)}
    for w in s.get("warnings") or []:
        if str(w) not in footnoted:
            table.warnings.append(str(w))

    sets = {(e["method"], e["resolution"], e["metric"]): e for e in s.get("sets") or []}
    wins = {(e["method"], e["resolution"], e.get("metric", "pickscore")): e for e in s.get("winrates") or []
            if e.get("reference_method", reference_method) == reference_method}
    lat = {(e["method"], e["resolution"]): e for e in latency}
    stat = {(e["method"], e["resolution"]): e for e in status}

    combos = set(stat) | set(lat) | {(m, r) for m, r, _ in sets} | {(m, r) for m, r, _ in wins}
    combos |= {(reference_method, r) for _, r, _ in wins}

    paper = {}
    if compare_paper:
        from ultrabench.report.paper import paper_index

        paper = paper_index()
        run_res = {r for _, r in combos}
        combos |= {(m, r) for (m, r) in paper if r in run_res}
        if not any((m, r) in paper for m, r in combos):
            table.warnings.append("--compare-paper: no resolution of this run appears in the paper's Table 1.")

    names = display_names or {}
    ordered = sorted(combos, key=lambda mr: (_res_key(mr[1]), method_sort_key(mr[0], reference_method)))
    for method, res in ordered:
        st = stat.get((method, res))
        fail = _failure_reason(st)
        in_run = (method, res) in stat or (method, res) in lat or any(k[:2] == (method, res) for k in sets)
        cells: dict[str, Cell] = {}
        stale_n: list[int] = []  # what stale values were computed on: the row's N says that, not today's count
        for col in columns:
            cell = Cell()
            if col.key == "latency" or col.key == "memory":
                e = lat.get((method, res))
                v = None
                if e is not None:
                    v = e.get("mean_s") if col.key == "latency" else e.get("peak_memory_bytes")
                    cell.n = e.get("n")
                ok = int(st.get("ok", 0)) if st else 0
                if v is not None:
                    cell.value = float(v) * col.scale
                    if cell.n is not None and 0 < cell.n < ok:
                        cell.remark = f"{col.header}: mean of the {cell.n} timed images of {ok}; {WARMUP_RULE}"
                elif ok and e is None and s.get("plain_folder"):
                    cell.note = f"{col.header}: images of a plain folder carry no generation records"
                elif ok and e is None:
                    cell.note = f"{col.header}: every image of this set was a warm-up unit; {WARMUP_RULE}"
                else:
                    cell.note = fail or ("no timing recorded" if col.key == "latency" else "no peak memory recorded")
            elif winrate_metric(col.key) is not None:
                pref = winrate_metric(col.key)
                pname = METRICS[pref].display_name
                e = wins.get((method, res, pref))
                if method == reference_method:
                    cell.note = f"reference method ({display_name_for(reference_method)}); no win rate against itself"
                elif e is not None and e.get("win_rate") is not None:
                    cell.value = float(e["win_rate"]) * col.scale
                    cell.n = e.get("n_pairs")
                    usable = _usable(st)
                    if e.get("stale"):
                        cell.remark, cell.stale = e["stale"], True
                    elif cell.n is not None and usable is not None and cell.n < usable:
                        cell.remark = (f"{col.header}: over the {cell.n} of {usable} images that have a "
                                       f"{display_name_for(reference_method)} image of the same prompt and sample")
                    if e.get("ci95"):
                        cell.ci95 = [float(x) * col.scale for x in e["ci95"]]
                elif (method, res) in not_scored:
                    cell.note = NEWER_THAN_SCORES
                elif fail or not scored:
                    cell.note = fail or NOT_SCORED
                elif (s.get("skipped") or {}).get(pref):
                    cell.note = f"{pname} not computed: {s['skipped'][pref]}"
                elif s.get("metrics") is not None and pref not in s["metrics"]:
                    cell.note = (f"{pname} was not asked for when this run was scored "
                                 f"(`ultrabench score --metric {pref}`)")
                elif not int((stat.get((reference_method, res)) or {}).get("ok", 0)):
                    cell.note = f"no {display_name_for(reference_method)} images at this resolution to pair with"
                else:
                    cell.note = f"{pname} win rate not computed"
            else:
                e = sets.get((method, res, col.key))
                if e is not None and e.get("value") is not None and not _nan(e["value"]):
                    cell.value = float(e["value"]) * col.scale
                    cell.n = e.get("n_images", e.get("n"))  # images, also for metrics on several crops each
                    usable = _usable(st)
                    if e.get("stale"):
                        cell.remark, cell.stale = f"computed on {cell.n} images; {e['stale']}", True
                        stale_n.append(cell.n)
                    elif e.get("warning"):
                        cell.remark = f"{col.header}: {e['warning']} ({e.get('n_ref')} reference rows)"
                    elif usable is not None and cell.n is not None and cell.n < usable:
                        cell.remark = f"{col.header}: computed on {cell.n} of the {usable} images of this set"
                    if e.get("ci95"):
                        cell.ci95 = [float(x) * col.scale for x in e["ci95"]]
                elif (method, res) in not_scored:
                    cell.note = NEWER_THAN_SCORES
                else:
                    cell.note = fail or (NOT_SCORED if not scored else _missing_reason(col, method, res, st, s))
            if not in_run:
                cell.note = PAPER_ONLY
            pr = paper.get((method, res))
            conflict = _paper_conflict(col.key, s, compare_paper)
            if pr is not None and col.paper and conflict and pr.values.get(col.key) is not None:
                where = f"paper, {pr.label} at {res.replace('x', ' x ')}"
                if paper_any_protocol:  # asked for: shown, and the footnote names both protocols
                    cell.paper = pr.values.get(col.key)
                    cell.paper_note = f"{where}: {col.header} {conflict}; not comparable"
                else:
                    cell.paper_note = (f"{where}: not shown beside the measured {col.header}, {conflict} "
                                       f"(--paper-any-protocol shows it anyway)")
            elif pr is not None and col.paper:
                cell.paper = pr.values.get(col.key)
                if pr.note and col.key in pr.note_columns:
                    cell.paper_note = f"paper, {pr.label} at {res.replace('x', ' x ')}: {pr.note}"
                elif cell.paper is None:
                    cell.paper_note = f"paper, {pr.label} at {res.replace('x', ' x ')}: {pr.note or 'not reported'}"
            cells[col.key] = cell
        n = None
        if stale_n and all(x is not None for x in stale_n):
            n = max(stale_n)
        elif st is not None:
            n = _usable(st)
        else:
            ns = [c.n for k, c in cells.items() if c.n is not None and winrate_metric(k) is None]
            n = max(ns) if ns else None
        display = names.get(method) or display_name_for(method)
        table.rows.append(Row(res, method, display, n if in_run else None, cells, in_run,
                              precision=(st or {}).get("dtype"), note=(st or {}).get("as_run_note")))
        if st is not None and int(st.get("ok", 0)) > 0:
            lost = {k: int(st.get(k, 0)) for k in ("oom", "error", "unsupported", "unreadable") if int(st.get(k, 0))}
            if lost:
                # unreadable images are finished units too: counted in ok, not beside it
                total = sum(int(st.get(k, 0)) for k in ("ok", "oom", "error", "unsupported"))
                parts = ", ".join(f"{v} {k}" for k, v in lost.items())
                table.warnings.append(f"{display} at {res}: {_usable(st)} of {total} images usable ({parts}).")

    _mark_best(table)
    # Allocate footnote marks in reading order so a, b, c appear top to bottom.
    for row in table.rows:
        if not row.in_run:
            table.mark(PAPER_ONLY)
        if row.note:
            table.mark(row.note)
        for col in columns:
            c = row.cells[col.key]
            if c.value is None and c.note and c.note != PAPER_ONLY:
                table.mark(c.note)
            elif c.value is not None and c.remark:
                table.mark(c.remark)
            if c.paper_note and compare_paper:
                table.mark(c.paper_note)
    return table


def _paper_conflict(metric: str, summary: dict[str, Any], compare_paper: bool) -> str | None:
    if not compare_paper:
        return None
    from ultrabench.report.paper import protocol_conflict

    return protocol_conflict(metric, ((summary.get("protocols") or {}).get(metric) or {}).get("version"))


def _usable(st: dict[str, Any] | None) -> int | None:
    """Finished images the scorer could read: the row's N."""
    if st is None:
        return None
    return max(0, int(st.get("ok", 0)) - int(st.get("unreadable", 0)))


def _nan(v: Any) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def _mark_best(table: Table) -> None:
    for _, rows in table.groups():
        for col in table.columns:
            if col.higher_is_better is None:
                continue
            vals = [(round(r.cells[col.key].value, col.decimals), r) for r in rows
                    if r.in_run and r.cells[col.key].value is not None]
            if len(vals) < 2:  # a lone value is not "best" of anything
                continue
            best = max(v for v, _ in vals) if col.higher_is_better else min(v for v, _ in vals)
            for v, r in vals:
                r.cells[col.key].best = v == best
