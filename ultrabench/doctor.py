"""`ultrabench doctor` and `ultrabench weights`: what is installed, what each method and metric
needs, and whether it is here."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from ultrabench.errors import UltrabenchError
from ultrabench.methods.registry import get_method_class, method_kind, method_names
from ultrabench.weights import WeightFile, WeightResolver, gated, human_size, size_on_disk


def metric_weight_files(metrics: Iterable[str] | None = None) -> list[tuple[str, WeightFile]]:
    """(metric, weight file) pairs, as declared by the scoring engine."""
    try:
        from ultrabench.scoring import weight_files_for
    except ImportError:
        return []
    return list(weight_files_for(list(metrics) if metrics else None))


def _method_files(names: Sequence[str] | None) -> list[tuple[str, WeightFile]]:
    out = []
    for name in names if names is not None else method_names(include_tiny=False):
        cls = get_method_class(name)
        if method_kind(cls) == "import":
            continue
        out += [(name, wf) for wf in cls().weight_files()]
    return out


def weight_rows(resolver: WeightResolver, methods: Sequence[str] | None = None, metrics=None,
                what: tuple[str, ...] = ("methods", "metrics")) -> list[dict]:
    rows = []
    pairs = (_method_files(methods) if "methods" in what else []) + (
        metric_weight_files(metrics) if "metrics" in what else []
    )
    for owner, wf in pairs:
        st = resolver.status(wf)
        rows.append({
            "owner": owner, "role": wf.role, "label": wf.label, "optional": wf.optional,
            "status": "ok" if st.path else ("optional" if wf.optional else "MISSING"),
            "where": str(st.path) if st.path else "not in " + " or ".join(resolver.looked_in(wf)),
            "size": _size(wf, st.path), "gated": gated(wf),
        })
    return rows


def _size(wf: WeightFile, path) -> str:
    """On disk when present; else what the declaration says (marked as declared), or 'unknown'."""
    if path is not None:
        try:
            return human_size(size_on_disk(path))
        except OSError:
            pass
    return f"{wf.size_hint} (declared)" if wf.size_hint else "unknown"


def selected_files(methods: Sequence[str] | None, metrics: Sequence[str] | None) -> list[tuple[str, WeightFile]]:
    """The files the named methods and metrics need; naming neither means everything."""
    if not methods and not metrics:
        return _method_files(None) + metric_weight_files()
    return (_method_files(methods) if methods else []) + (metric_weight_files(metrics) if metrics else [])


def weightless(methods: Sequence[str]) -> list[str]:
    """One line for each of `methods` that needs no weight file, saying why."""
    out = []
    for name in methods:
        cls = get_method_class(name)
        if method_kind(cls) == "import":
            out.append(f"{name}: no weight files (its images are imported)")
        elif not cls().weight_files():
            stand_in = " (random-weight stand-in, built locally)" if cls.family == "tiny" else ""
            out.append(f"{name}: no weight files{stand_in}")
    return out


def fetch_weights(resolver: WeightResolver, methods: Sequence[str] | None = None,
                  metrics: Sequence[str] | None = None) -> Iterable[tuple[bool, str]]:
    """(ok, line) per weight file the named methods and metrics need (neither: all): present,
    fetched, or FAILED with the reason."""
    from ultrabench.weights import hub_offline

    files = selected_files(methods, metrics)  # an unknown name is refused before the offline check
    if hub_offline():
        raise UltrabenchError("HF_HUB_OFFLINE is set: unset it on a machine with network access to fetch weights")
    for owner, wf in files:
        st = resolver.status(wf)
        if st.path:
            yield True, f"{owner} {wf.role}: present at {st.path}"
            continue
        try:
            yield True, f"{owner} {wf.role}: fetched to {resolver.download(wf)}"
        except Exception as e:  # one line per file; carry on with the others
            yield False, f"{owner} {wf.role}: FAILED ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"


def _check_official_code(entry, echo) -> bool:
    """Methods that run their authors' code need a checkout and its environment: say where, or how."""
    cls = get_method_class(entry.registry_name)
    if not getattr(cls, "official_repo", ""):
        return True
    method = cls(entry.settings)
    repo = method.repo_path()
    env_var = f"ULTRABENCH_{cls.name.upper()}_REPO"
    if repo is None:
        echo(f"  {entry.name}: official code MISSING: clone github.com/{cls.official_repo}, set repo = \"PATH\" in the "
             f"method's settings (or {env_var}), then `ultrabench env create {cls.name} --repo PATH`")
        return False
    if not repo.is_dir():
        echo(f"  {entry.name}: official code MISSING: {repo} is not a folder (clone github.com/{cls.official_repo} there)")
        return False
    py = method.python_path()
    if not py.exists():
        echo(f"  {entry.name}: official code at {repo}, environment MISSING: run `ultrabench env create {cls.name} --repo {repo}`")
        return False
    echo(f"  {entry.name}: official code at {repo}, environment {py}")
    return True


def _check_reference(spec, metrics, echo) -> bool:
    from pathlib import Path

    from ultrabench.metrics.registry import get_metric

    needs = [m for m in metrics if get_metric(m).needs_reference]
    if not needs:
        return True
    if spec.reference is None:
        echo(f"  no reference images set: {', '.join(needs)} will be skipped (set `reference` in the spec, or --reference)")
        return True
    ref = str(spec.reference)
    if ref.startswith("hf:"):
        from ultrabench.hfdata import parse_hf_source, where_is

        name = parse_hf_source(ref)[0]
        found = where_is(name)
        if found is None:
            echo(f"  reference {ref} is not on this machine (needed by {', '.join(needs)}); fetch it with "
                 f"`huggingface-cli download --repo-type dataset {name}`")
            return False
        echo(f"  reference images: {ref} ({found})")
        return True
    if not Path(ref).expanduser().exists():
        echo(f"  reference {ref} does not exist (needed by {', '.join(needs)})")
        return False
    echo(f"  reference images: {ref}")
    return True


def run_doctor(spec, *, weights: WeightResolver, methods=None, resolutions=None, metrics=None,
               echo: Callable[[str], None] = print, stand_ins: bool = False) -> bool:
    """Print the environment and the weights the requested benchmark needs; False if it can't run.

    `stand_ins`: the metrics use random-weight extractors (as `score --stand-ins`), so no metric
    weight file is needed."""
    from ultrabench.generate import select_work
    from ultrabench.provenance import package_versions, torch_info

    ti = torch_info()
    echo(f"python {__import__('sys').version.split()[0]}, torch {ti['torch']}, "
         f"CUDA {'available ' + str(ti['cuda']) if ti['cuda_available'] else 'not available'}, GPU {ti.get('gpu') or 'none'}")
    missing_pkgs = [k for k, v in package_versions().items() if v is None]
    if missing_pkgs:
        echo(f"packages missing: {', '.join(missing_pkgs)}")
    work = select_work(spec, methods, resolutions)
    names = []
    ok = True
    for entry, res in work:
        cls = get_method_class(entry.registry_name)
        kind = method_kind(cls)
        names.append(entry.registry_name)
        echo(f"method {entry.name} ({kind}) at {', '.join(r.key for r in res)}")
        ok &= _check_official_code(entry, echo)
    rows = weight_rows(weights, sorted(set(names)), what=("methods",))
    for line in weightless(sorted(set(names))):
        echo(f"  {line}")
    if stand_ins:
        echo("  metrics: random-weight stand-in extractors (--stand-ins), no weight files needed; their numbers mean nothing")
        metric_rows = []
    else:
        metric_rows = weight_rows(weights, metrics=metrics or list(spec.metrics), what=("metrics",))
    for row in rows + metric_rows:
        echo(f"  {row['owner']:<18} {row['role']:<20} {row['status']:<8} {row['label']}  ({row['where']})")
        ok &= row["status"] != "MISSING"
    ok &= _check_reference(spec, metrics or list(spec.metrics), echo)
    echo("ready" if ok else "not ready: fetch the MISSING files with `ultrabench weights fetch` on a machine with network, "
         "or point --weights-dir at a folder that has them")
    return ok
