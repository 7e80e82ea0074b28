"""`ultrabench`: a thin Typer layer over `ultrabench.api`.

Nothing heavy is imported at module level, so `ultrabench --help` answers instantly; torch and the
models load inside the commands that need them. Errors are one line (`--debug` for a traceback);
exit codes: 0 success, 1 runtime failure, 2 bad usage or input.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import typer
import typer.core

from ultrabench.config import DEFAULT_SPEC, field_default, field_help
from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.slurm import slurm_options

# The options every command shares (the callback's); a user may give them after the command's name too.
GLOBAL_FLAGS = frozenset({"--debug", "--quiet", "-q"})
GLOBAL_VALUED = frozenset({"--device", "--dtype", "--weights-dir"})


def _globals_first(argv) -> list[str]:
    """`ultrabench score A --device cpu -q` -> `ultrabench --device cpu -q score A`: click reads the
    callback's options only before the command name, so they are moved there (after `--`, nothing is)."""
    argv = [str(a) for a in argv]
    front, rest, i, seen_command = [], [], 0, False
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        name = a.split("=", 1)[0]
        if name in GLOBAL_VALUED:
            takes = 1 if "=" in a or i + 1 >= len(argv) else 2
            (front if seen_command else rest).extend(argv[i:i + takes])
            i += takes
            continue
        if a in GLOBAL_FLAGS:
            (front if seen_command else rest).append(a)
        else:
            seen_command = seen_command or not a.startswith("-")
            rest.append(a)
        i += 1
    return front + rest


class _OneLineErrors(typer.core.TyperGroup):
    """Malformed flags (`--batch-size 0`, `--workers x`, an unknown option) get one line and exit 2,
    like every other usage error, instead of click's usage block."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        try:  # recent typer releases carry their own copy of click
            from typer._click import exceptions as cx
        except ImportError:  # pragma: no cover - typer < 0.2x
            from click import exceptions as cx

        if args:  # click's own order: main(args, prog_name, ...)
            args = (_globals_first(args[0]), *args[1:])
        else:
            kwargs["args"] = _globals_first(kwargs["args"] if kwargs.get("args") is not None else sys.argv[1:])
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except cx.NoArgsIsHelpError as e:
            e.show()
            sys.exit(e.exit_code)
        except cx.UsageError as e:
            where = f"; see `{e.ctx.command_path} --help`" if e.ctx is not None else ""
            typer.echo(f"error: {e.format_message()}{where}", err=True)
            sys.exit(2)
        except cx.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="ultrabench",
    help=(
        "Benchmark ultra-high-resolution text-to-image generation (UltraPixel Table 1 and beyond).\n\n"
        "Resolutions are HEIGHT x WIDTH: --res 2160x3840 is 2160 high and 3840 wide (landscape).\n\n"
        "Typical use: `ultrabench generate --res 2160x3840`, then `ultrabench score`, then `ultrabench report`.\n\n"
        "The options below work before or after any command's name: `ultrabench score A --device cpu -q`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
prompts_app = typer.Typer(help="Show or export prompt sets.", no_args_is_help=True)
weights_app = typer.Typer(help="List or fetch the weight files methods and metrics need.", no_args_is_help=True)
reference_app = typer.Typer(help="Reference image statistics for FID/KID.", no_args_is_help=True)
env_app = typer.Typer(help="Virtual environments for official baseline code.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
app.add_typer(weights_app, name="weights")
app.add_typer(reference_app, name="reference")
app.add_typer(env_app, name="env")


@dataclass
class _Globals:
    device: Optional[str] = None
    dtype: Optional[str] = None
    debug: bool = False
    weights_dir: Optional[str] = None
    quiet: bool = False


G = _Globals()


def _err(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)


def handled(fn):
    """Turn ultrabench errors into one line and the right exit code (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UltrabenchError as e:
            if G.debug:
                raise
            _err(str(e))
            raise typer.Exit(e.exit_code)
        except KeyboardInterrupt:
            _ignore_further_interrupts()
            _err("interrupted; finished units are kept, rerun the same command to resume")
            raise typer.Exit(130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:
            if G.debug:
                raise
            _err(f"{type(e).__name__}: {e}".splitlines()[0] + " (run with --debug for the traceback)")
            raise typer.Exit(1)

    return wrapper


def _device() -> str:
    from ultrabench.shard import launcher_device

    if G.device:
        return launcher_device(G.device)
    from ultrabench.api import default_device

    return launcher_device(default_device())


def _weights(allow_download: bool = False):
    from ultrabench.weights import WeightResolver

    return WeightResolver(G.weights_dir, allow_download=allow_download)


def _console():
    from rich.console import Console

    # Piped output (CI logs, files) gets a wide fixed width so Table 1 is not squeezed to 80 columns.
    return Console(stderr=False, width=None if sys.stdout.isatty() else 160)  # tables are output: -q keeps them


def _spec(spec: Optional[str], **overrides):
    from ultrabench.config import load_spec

    return load_spec(spec).replace(**overrides)


def _run_spec(spec: Optional[str], run_dir: Optional[Path], **overrides):
    """(spec, folder) for commands that work on a run: without --spec, a given run folder's own
    frozen spec (run.json) supplies the metrics, reference and reference method it was set up with."""
    if spec is None and run_dir is not None:
        from ultrabench.config import spec_from_dict
        from ultrabench.runstore import RunStore

        frozen = RunStore(run_dir).read_run_info().get("spec")
        if frozen:
            return spec_from_dict(frozen, where=f"{run_dir}/run.json").replace(**overrides), run_dir
    the_spec = _spec(spec, **overrides)
    return the_spec, run_dir or Path(the_spec.out)


def _names(values: Optional[List[str]]) -> Optional[List[str]]:
    """A <list[str]> option: repeatable and comma-separated, like --res; each name counted once."""
    out: List[str] = []
    for value in values or ():
        for part in value.split(","):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
    return out or None


def _parse_res(res: Optional[List[str]]):
    if not res:
        return None
    from ultrabench.resolution import parse_resolutions

    return parse_resolutions(res)


def _echo_resolutions(resolutions) -> None:
    for r in resolutions:
        typer.echo(f"resolution {r.describe()}")


@app.callback()
def _main(
    device: Optional[str] = typer.Option(None, "--device", help="Torch device (default: cuda when present, else cpu)."),
    dtype: Optional[str] = typer.Option(
        None, "--dtype", help="Model dtype for every method whose spec entry sets none: float32, bfloat16 or float16. "
                              "Default: each method's authors' precision (`ultrabench methods` lists it)."),
    weights_dir: Optional[str] = typer.Option(
        None, "--weights-dir", help="Folder of local weights (<dir>/<repo_id>/<file>); else the HF cache. Env: ULTRABENCH_WEIGHTS_DIR."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter; a command's output (tables, values) still prints."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=lambda v: _print_version(v),
                                 help="Print ultrabench's version and exit."),
) -> None:
    if dtype is not None and dtype not in ("float32", "bfloat16", "float16"):
        raise typer.BadParameter(f"{dtype!r} is not one of float32, bfloat16, float16", param_hint="--dtype")
    _keep_caches_out_of_tmp()
    G.device, G.dtype, G.debug, G.weights_dir, G.quiet = device, dtype, debug, weights_dir, quiet
    from ultrabench.progress import silence_library_bars

    silence_library_bars()  # ours (rich, on a terminal only) are the only bars, -q or not


def _print_version(asked: bool) -> None:
    if asked:
        from ultrabench import __version__

        typer.echo(f"ultrabench {__version__}")
        raise typer.Exit(0)


def _keep_caches_out_of_tmp() -> None:
    """torch makes /tmp/torchinductor_<user> as soon as diffusers is imported, a folder that
    outlives every process; unless the user chose a place, it goes into ultrabench's cache."""
    import os

    from ultrabench.weights import cache_root

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_root() / "torchinductor"))


SPEC_OPT = typer.Option(None, "--spec", "-s", help=f"Benchmark spec: a TOML path or a name in benchmarks/ (default {DEFAULT_SPEC}).")
RES_OPT = typer.Option(None, "--res", "-r", help="Resolution HxW (height x width), repeatable or comma-separated; 'paper' = the five Table 1 sizes.")
OUT_OPT = typer.Option(None, "--out", "-o", help=field_help("out"))
EXTEND_OPT = typer.Option(
    False, "--extend", help="Grow an existing run: a larger -n (or samples per prompt) with everything else of its spec unchanged.")
NEW_SPEC_OPT = typer.Option(
    False, "--new-spec", help="Make this spec the run folder's; units of its old spec stay on disk but are left out of status, score and report.")
NO_STEAL_OPT = typer.Option(
    False, "--no-steal", help="With --shard (or a launcher): do only this shard's share, not the other shards' "
                              "unclaimed units once it is done.")


@app.command()
@handled
@slurm_options
def generate(
    res: Optional[List[str]] = RES_OPT,
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Method(s) to run (default: every method the spec lists at each resolution)."),
    spec: Optional[str] = SPEC_OPT,
    out: Optional[str] = OUT_OPT,
    prompts: Optional[str] = typer.Option(None, "--prompts", help=field_help("prompts")),
    num_prompts: Optional[int] = typer.Option(None, "--num-prompts", "-n", help=field_help("num_prompts")),
    seed: Optional[int] = typer.Option(None, "--seed", help=field_help("seed")),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help=field_help("batch_size")),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo units that are already finished."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Redo units recorded as oom or error."),
    shard: Optional[str] = typer.Option(
        None, "--shard", help="Do only shard i of n (e.g. 0/4), for job arrays; under torchrun/accelerate the rank is used."
    ),
    extend: bool = EXTEND_OPT,
    new_spec: bool = NEW_SPEC_OPT,
    no_steal: bool = NO_STEAL_OPT,
    slurm: Optional[dict] = None,  # the --slurm options (`_slurm_options`), None without --slurm
) -> None:
    """Generate images into the run folder; finished units are skipped, so rerunning resumes."""
    params = dict(locals())  # before any other name: what a Slurm task reruns as its shard
    from ultrabench.generate import generate as run_generate
    from ultrabench.shard import parse_shard

    the_spec = _spec(spec, out=out, prompts=prompts, num_prompts=num_prompts, seed=seed, batch_size=batch_size)
    if slurm:
        from ultrabench.status import collect_status

        folder = Path(the_spec.out)
        return _slurm("generate", params, folder, lambda: not (folder / "run.json").is_file()
                      or sum(r["pending"] for r in collect_status(folder).rows) > 0)
    resolutions = _parse_res(res)
    if resolutions:
        _echo_resolutions(resolutions)
    summary = run_generate(
        the_spec, methods=_names(method), resolutions=resolutions, device=_device(), dtype=G.dtype, weights=_weights(),
        overwrite=overwrite, retry_failed=retry_failed, progress=not G.quiet, shard=parse_shard(shard),
        spec_change=_spec_change(extend, new_spec), steal=not no_steal,
    )
    _print_generate_summary(summary, the_spec.out)


def _slurm(command: str, params: dict, folder: Path, work_left, merge: bool = False) -> None:
    """Run `command` as a Slurm job array (`ultrabench.slurm`) and wait until its work is done."""
    import dataclasses

    from ultrabench.slurm import SlurmOptions, run_array

    if params["shard"]:
        raise UsageError("--slurm gives each task its own shard; leave out --shard")
    o = params["slurm"]
    opts = SlurmOptions(array=o["array"], gpus=o["gpus"], cpus=o["cpus"], mem_gb=o["mem_gb"], partition=o["partition"],
                        time_min=o["time"], resubmit=o["resubmit"], cluster="local" if o["local"] else "slurm",
                        poll_s=1.0 if o["local"] else 10.0)
    problems = run_array(command, params, dataclasses.asdict(G), folder, opts, work_left, typer.echo, merge)
    for line in problems:
        _err(line)
    if problems:
        raise UltrabenchError(f"the job array did not finish its work (above); `ultrabench status {folder}` shows "
                              "the jobs and what is left; rerun the same command to go on")
    typer.echo(f"{command}: the job array finished its work; run folder: {folder}")


def _spec_change(extend: bool, new_spec: bool) -> Optional[str]:
    if extend and new_spec:
        raise UsageError("--extend and --new-spec exclude each other: grow the run's spec, or replace it")
    return "extend" if extend else "new-spec" if new_spec else None


def _print_generate_summary(summary, out) -> None:
    for note in summary.notes:
        typer.echo(f"note: {note}")
    for key, counts in summary.counts.items():
        typer.echo(f"{key}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    stolen = f", {summary.stolen} of them from other shards" if summary.stolen else ""
    shard = f" (shard {summary.shard}{stolen})" if summary.shard else ""
    elsewhere = f", {summary.elsewhere} held by another process" if summary.elsewhere else ""
    failed = f", {summary.failed} failed" if summary.failed else ""
    before = f", {summary.failed_before} failed earlier and not retried" if summary.failed_before else ""
    typer.echo(f"{summary.generated} generated, {summary.skipped} already done{failed}{before}{elsewhere}{shard}; "
               f"run folder: {out}")
    if summary.failures:
        for failure in summary.failures:  # one line each, so a long list stays readable
            _err(failure)
        raise UltrabenchError(f"{len(summary.failures)} method(s) could not run (see above); their units stay pending")
    if summary.interrupted:
        how = getattr(summary, "stopped_by", "Ctrl-C")
        typer.echo(f"stopped early on request ({how}); rerun the same command to resume")
        raise typer.Exit(143 if how == "SIGTERM" else 130)
    if summary.failed or summary.failed_before:
        first = f" (first: {summary.first_error})" if summary.first_error else ""
        raise UltrabenchError(
            f"{summary.failed + summary.failed_before} unit(s) are recorded as oom or error{first}; "
            f"`ultrabench status --failed {out}` lists them, `--retry-failed` redoes them")
    unsupported = sum(c.get("unsupported", 0) for c in summary.counts.values()) + summary.unsupported_before
    if unsupported and not summary.generated and summary.skipped == summary.unsupported_before \
            and not summary.elsewhere:
        raise UsageError(f"none of the {unsupported} unit(s) asked for can be made: every method is unsupported "
                         "at the resolutions given (`ultrabench methods --res ...` shows what each supports)")


@app.command()
@handled
@slurm_options
def score(
    run_dir: Optional[Path] = typer.Argument(None, help="Run folder (default: the default spec's out folder); its run.json supplies the spec."),
    spec: Optional[str] = SPEC_OPT,
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Metric(s) to compute (default: the spec's)."),
    reference: Optional[str] = typer.Option(None, "--reference", help=field_help("reference")),
    patch_crops: Optional[int] = typer.Option(None, "--patch-crops", min=1, help=field_help("patch_crops")),
    patch_size: Optional[int] = typer.Option(None, "--patch-size", help=field_help("patch_size")),
    align_crops: Optional[int] = typer.Option(None, "--align-crops", min=1, help=field_help("align_crops")),
    pair_crops: Optional[int] = typer.Option(None, "--pair-crops", min=1, help=field_help("pair_crops")),
    pair_square: Optional[int] = typer.Option(None, "--pair-square", min=299, help=field_help("pair_square")),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Images per network forward."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=0, help="Parallel decoding workers (default: one per usable CPU core, at most 16; one fewer with a GPU; 0 decodes in this process)."
    ),
    stand_ins: bool = typer.Option(False, "--stand-ins", help="Use random-weight extractors (tests/demos: numbers mean nothing)."),
    shard: Optional[str] = typer.Option(
        None, "--shard", help="Only extract features of shard i of n (e.g. 0/4); a later unsharded `score` merges."
    ),
    prompts: Optional[Path] = typer.Option(
        None, "--prompts", help="For a plain folder of images: a prompt file whose ids are the image paths relative "
                                "to the folder, without extension (without one, metrics that need a prompt are skipped)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="For a plain folder of images: where its scores/ go (default: a folder of "
                                  "ultrabench's cache named after it; never into the image folder). `report DIR` reads them."),
    as_json: bool = typer.Option(False, "--json", help="Print the values machine-readable (JSON) instead of a table."),
    no_steal: bool = NO_STEAL_OPT,
    slurm: Optional[dict] = None,  # the --slurm options (`_slurm_options`), None without --slurm
) -> None:
    """Score a run folder, or a plain folder of images, with every metric the spec lists
    (`ultrabench metrics` shows them all): FID, FID-patch, IS, IS-patch, KID, CLIP, PickScore win rates,
    GLCM, latency."""
    params = dict(locals())  # before any other name: what a Slurm task reruns as its shard
    from ultrabench.api import score as run_score
    from ultrabench.shard import launcher_shard, parse_shard

    the_spec, folder = _run_spec(spec, run_dir, reference=reference, patch_crops=patch_crops,
                                 patch_size=patch_size, align_crops=align_crops, pair_crops=pair_crops,
                                 pair_square=pair_square)
    if not folder.is_dir():
        raise UsageError(f"run folder {folder} does not exist (generate first, or pass the folder)")
    if slurm:  # an array extracts the features, then one more task merges them
        from ultrabench.scoring.api import shard_markers

        markers = shard_markers(folder, slurm["array"], methods=None, resolutions=None)
        for m in markers:  # an earlier launch's markers do not say this one's work is done
            m.unlink(missing_ok=True)
        return _slurm("score", params, folder, lambda: not all(m.exists() for m in markers), merge=True)
    kw = {**the_spec.score_options(), "device": _device(), "batch_size": batch_size, "workers": workers,
          "stand_ins": stand_ins, "weights": _weights(), "progress": not G.quiet}
    if metric:
        kw["metrics"] = _names(metric)
    if prompts is not None:
        kw["prompts"] = prompts
    if out is not None:
        kw["out"] = out
    explicit, launched = parse_shard(shard), launcher_shard()
    if explicit or launched:
        part = run_score(folder, shard=explicit or launched, steal=not no_steal, **kw)
        stolen = f" ({part['stolen']} of them from other shards)" if part["stolen"] else ""
        typer.echo(f"shard {part['shard']}: features of {part['images']} images cached{stolen}")
        if explicit or launched.index != 0:
            return
        # Under torchrun/accelerate rank 0 waits for the other ranks, then merges from the cache.
        from ultrabench.scoring.api import wait_for_shards

        wait_for_shards(folder, launched, out=out)
    summary = run_score(folder, **kw)
    _print_scores(summary, folder, as_json)


def _print_scores(summary: dict, folder: Path, as_json: bool) -> None:
    """The values a score computed: a table (after its warnings), or with --json one JSON object."""
    from ultrabench.scoring.values import render_values, value_rows

    rows = value_rows(summary)
    written = Path(summary.get("results_dir") or folder) / "scores"
    if as_json:
        typer.echo(json.dumps({"values": rows, "not_computed": summary.get("not_computed", []),
                               "warnings": summary.get("warnings", []), "scores": str(written)}, indent=2))
        return
    for w in summary.get("warnings", []):
        typer.echo(f"warning: {w}")
    if rows:
        _console().print(render_values(rows))
    typer.echo(f"scored {len(rows)} values; wrote {written}")


@app.command()
@handled
def report(
    run_dir: Optional[Path] = typer.Argument(None, help="Run folder (default: the default spec's out folder)."),
    spec: Optional[str] = SPEC_OPT,
    fmt: Optional[List[str]] = typer.Option(None, "--format", "-f", help="terminal, md, latex, csv, json, html, figures (default: all)."),
    compare_paper: bool = typer.Option(False, "--compare-paper", help="Put the paper's published Table 1 beside the measured values (only those measured under the paper's protocol)."),
    paper_any_protocol: bool = typer.Option(
        False, "--paper-any-protocol", help="With --compare-paper: show the paper's number beside one measured under "
                                            "another protocol (e.g. --patch-size 224) too, footnoted as not comparable."),
    ci: bool = typer.Option(False, "--ci", help="Show +/- 95% intervals."),
    extra: Optional[List[str]] = typer.Option(
        None, "--extra", "--columns",
        help="Extra columns: any metric `ultrabench metrics` lists (kid, kid-patch, glcm, compression-ratio, ...), "
             "winrate (PickScore's) or winrate:METRIC for another preference model, memory."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the report files (default: RUN/report)."),
) -> None:
    """Print Table 1 and write Markdown, LaTeX, CSV, JSON, figures and an HTML report."""
    from ultrabench.api import report as run_report

    the_spec, folder = _run_spec(spec, run_dir)
    if not folder.is_dir():
        raise UsageError(f"run folder {folder} does not exist")
    formats = _names(fmt)
    kw = {"formats": tuple(formats)} if formats else {}
    if paper_any_protocol and not compare_paper:
        raise UsageError("--paper-any-protocol only means something with --compare-paper")
    result = run_report(folder, out_dir=out, compare_paper=compare_paper, paper_any_protocol=paper_any_protocol,
                        ci=ci, extra_columns=tuple(_names(extra) or ()),
                        reference_method=the_spec.reference_method, console=_console(), **kw)
    from ultrabench.report import iter_files

    for name, path in iter_files(result.get("files", {})):
        typer.echo(f"{name}: {path}")


@app.command()
@handled
def compare(
    run_dirs: List[Path] = typer.Argument(..., help="Two or more scored run folders of the same experiment."),
    fmt: Optional[List[str]] = typer.Option(None, "--format", "-f", help="terminal, md, latex, csv, json, html, figures (default: all)."),
    ci: bool = typer.Option(False, "--ci", help="Show +/- 95% intervals."),
    extra: Optional[List[str]] = typer.Option(None, "--extra", "--columns", help="Extra columns, as for `ultrabench report`."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the report files (needed unless -f terminal)."),
    reference_method: str = typer.Option("ultrapixel", "--reference-method", help="The method win rates are measured against."),
) -> None:
    """One table over several run folders (say, a new method generated on another cluster beside a
    stored Table-1 run). They must share prompts, seeds, reference set and metric protocols; the
    first difference is refused in one line. Win rates are recomputed across the folders."""
    from ultrabench.api import report as run_report

    if len(run_dirs) < 2:
        raise UsageError("compare needs at least two run folders")
    formats = _names(fmt)
    kw = {"formats": tuple(formats)} if formats else {}
    result = run_report(run_dirs[0], compare_with=tuple(run_dirs[1:]), out_dir=out, ci=ci,
                        extra_columns=tuple(_names(extra) or ()), reference_method=reference_method,
                        console=_console(), **kw)
    from ultrabench.report import iter_files

    for name, path in iter_files(result.get("files", {})):
        typer.echo(f"{name}: {path}")


@app.command("run")
@handled
def run_all(
    spec: Optional[str] = typer.Argument(None, help=f"Benchmark spec (TOML path or name; default {DEFAULT_SPEC})."),
    spec_opt: Optional[str] = typer.Option(None, "--spec", "-s", help="The spec, as an option (same as the argument)."),
    res: Optional[List[str]] = RES_OPT,
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Only these methods."),
    out: Optional[str] = OUT_OPT,
    num_prompts: Optional[int] = typer.Option(None, "--num-prompts", "-n", help=field_help("num_prompts")),
    stand_ins: bool = typer.Option(False, "--stand-ins", help="Random-weight metric extractors (numbers mean nothing)."),
    stand_in_methods: bool = typer.Option(
        False, "--stand-in-methods",
        help="Run every method of the spec as its tiny random-weight twin (same adapter and code path, built locally, "
             "no downloads) at --res (default 128x256) into <out>-stand-ins, with stand-in extractors: checks a spec "
             "end to end on a CPU; numbers mean nothing."),
    extend: bool = EXTEND_OPT,
    new_spec: bool = NEW_SPEC_OPT,
) -> None:
    """generate -> score -> report from one benchmark spec."""
    from ultrabench.api import run as run_pipeline

    if spec and spec_opt and spec != spec_opt:
        raise UsageError(f"two specs given ({spec} and --spec {spec_opt}); give one")
    spec = spec or spec_opt
    the_spec = _spec(spec, out=None if stand_in_methods else out, num_prompts=num_prompts)
    resolutions = _parse_res(res)
    if resolutions:
        _echo_resolutions(resolutions)
    result = run_pipeline(the_spec, device=_device(), dtype=G.dtype, weights=_weights(), resolutions=resolutions,
                          methods=_names(method), stand_ins=stand_ins, progress=not G.quiet, console=_console(),
                          stand_in_methods=stand_in_methods, stand_in_out=out, spec_change=_spec_change(extend, new_spec))
    _print_generate_summary(result["generate"], result["spec"].out)


@app.command()
@handled
def methods(
    res: Optional[List[str]] = RES_OPT,
    all_: bool = typer.Option(False, "--all", help="Include the tiny random-weight stand-ins."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Print the support matrix: what each method delivers at each resolution."""
    from ultrabench.resolution import PAPER_RESOLUTIONS
    from ultrabench.support import support_matrix

    resolutions = _parse_res(res) or PAPER_RESOLUTIONS
    rows = support_matrix(resolutions, include_tiny=all_)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from ultrabench.support import render_matrix

    _console().print(render_matrix(rows, resolutions))


@app.command("metrics")
@handled
def metrics_cmd(
    names: Optional[List[str]] = typer.Argument(None, help="Only these metrics (default: every registered one)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the registered metrics: direction, range, input, what each needs, its extractor and licence."""
    from ultrabench.metrics.registry import PLUGIN_ERRORS, describe_rows

    rows = describe_rows(names or None)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        typer.echo(f"{'metric':<20} {'better':<7} {'kind':<10} {'range':<14} {'needs':<18} {'extractor':<16} input")
        for r in rows:
            needs = ",".join(k for k, v in (("reference", r["needs_reference"]), ("prompt", r["needs_prompt"])) if v)
            wins = " (+ win rates)" if r["win_rates"] else ""
            typer.echo(f"{r['name']:<20} {r['better']:<7} {r['kind']:<10} {r['range'] or '-':<14} {needs or '-':<18} "
                       f"{r['extractor']:<16} {r['input']}{wins}")
            if r["licence"]:
                typer.echo(f"{'':<20} weights licence: {r['licence']}")
    for e in PLUGIN_ERRORS:
        _err(e)


@app.command()
@handled
def status(
    run_dir: Optional[Path] = typer.Argument(None, help="Run folder (default: the default spec's out folder)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    failed: bool = typer.Option(False, "--failed", help="List the units recorded as oom or error, with their error text."),
) -> None:
    """Count done / pending / oom / error / unsupported units per method and resolution."""
    from ultrabench.runspec import describe_left_out
    from ultrabench.status import COLUMNS, collect_status

    st = collect_status(run_dir or Path(_spec(None).out))
    if failed:
        rows = [{"unit": r.data.get("unit_id") or str(r.record_path), "status": r.status,
                 "error": r.data.get("error") or "(no error text recorded)"} for r in st.failed]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            typer.echo(f"{row['unit']}  {row['status']}: {row['error']}")
        typer.echo(f"{len(rows)} failed unit(s); `ultrabench generate --retry-failed` redoes them" if rows
                   else "no failed units")
        return
    if as_json:
        typer.echo(json.dumps(st.rows, indent=2))
        return
    from rich.table import Table

    columns = COLUMNS + (("jobs",) if st.jobs else ())  # jobs: how many scheduler jobs made the row's units
    t = Table(title="Units", title_style="bold", header_style="bold cyan")  # the style of methods and report
    t.add_column("method", no_wrap=True)
    t.add_column("H x W", no_wrap=True)
    for c in columns:
        t.add_column(c, justify="right")
    for r in st.rows:
        t.add_row(r["method"], r["resolution"], *(str(r[c]) for c in columns))
    _console().print(t)
    if st.left_out:
        typer.echo(describe_left_out(st.left_out))
    if st.jobs:
        jobs = Table(title="Scheduler jobs", title_style="bold", header_style="bold cyan")
        for c in ("job", "shard", "command", "state", "units", "host", "note"):
            jobs.add_column(c, justify="right" if c == "units" else "left", no_wrap=c in ("job", "shard"))
        for j in st.jobs:
            jobs.add_row(str(j["job"]), str(j["shard"]), str(j["command"]), str(j["state"]),
                         "-" if j["units"] is None else str(j["units"]), j["host"] or "-", j["note"] or "")
        _console().print(jobs)


@prompts_app.command("show")
@handled
def prompts_show(
    source: str = typer.Argument("builtin", help="builtin, a prompt file, or hf:<dataset>[:split[:column]]."),
    n: Optional[int] = typer.Option(None, "--num-prompts", "-n", help="Sample this many (deterministic)."),
    seed: int = typer.Option(0, "--seed", help="Sample seed."),
    limit: int = typer.Option(20, "--limit", min=0, help="Show at most this many lines (0: all)."),
) -> None:
    """Print prompt ids and texts."""
    from ultrabench.prompts import load_prompts, sample_prompts

    items = sample_prompts(load_prompts(source), n, seed)
    shown = items if limit == 0 else items[:limit]
    for p in shown:
        typer.echo(f"{p.id}\t{p.text}")
    typer.echo(f"({len(items)} prompts{'' if len(shown) == len(items) else f', {len(shown)} shown'})", err=True)


@prompts_app.command("export")
@handled
def prompts_export(
    dest: Path = typer.Argument(..., help="Output file: .jsonl, .csv, .txt or .parquet."),
    source: str = typer.Option("builtin", "--source", help="builtin, a prompt file, or hf:<dataset>."),
    n: Optional[int] = typer.Option(None, "--num-prompts", "-n", help="Sample this many (deterministic)."),
    seed: int = typer.Option(0, "--seed", help="Sample seed."),
) -> None:
    """Write a prompt set to a file (ids preserved)."""
    from ultrabench.prompts import load_prompts, sample_prompts
    from ultrabench.prompts.export import export_prompts, txt_loses_ids

    items = sample_prompts(load_prompts(source), n, seed)
    export_prompts(items, dest)
    typer.echo(f"wrote {len(items)} prompts to {dest}")
    if dest.suffix.lower() == ".txt" and txt_loses_ids(items):
        typer.echo(f"note: a .txt file holds no ids: read back, these prompts get ids l0001-l{len(items):04d} "
                   f"instead of {items[0].id}...; .jsonl, .csv and .parquet keep them")


@weights_app.command("list")
@handled
def weights_list(
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Only these methods."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Only these metrics."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the weight files the methods and metrics need (default: all): where each is expected,
    whether it is present, its size (on disk, else as declared) and whether its hub repo is gated."""
    from ultrabench.doctor import weight_rows, weightless

    method, metric = _names(method), _names(metric)
    what = (("methods",) if method else ()) + (("metrics",) if metric else ()) or ("methods", "metrics")
    rows = weight_rows(_weights(), method, metric, what=what)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    t = Table(title="Weight files", title_style="bold", header_style="bold cyan")
    for name in ("for", "role", "status", "size", "gated", "file", "where"):
        t.add_column(name, overflow="fold", no_wrap=name in ("status", "gated"))
    for r in rows:
        t.add_row(r["owner"], r["role"], r["status"], r["size"], r["gated"], r["label"], r["where"])
    if rows:
        _console().print(t)
    for line in weightless(method or []):
        typer.echo(line)


@weights_app.command("fetch")
@handled
def weights_fetch(
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Only the files these methods need."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Only the files these metrics need (e.g. fid)."),
) -> None:
    """Download the missing weights the named methods and metrics need (neither: every file). Needs
    network; honours HF_HUB_OFFLINE."""
    from ultrabench.doctor import fetch_weights

    failed = 0
    for ok, line in fetch_weights(_weights(allow_download=True), _names(method), _names(metric)):
        typer.echo(line)
        failed += not ok
    if failed:
        raise UltrabenchError(f"{failed} weight file(s) could not be fetched (FAILED above)")


@app.command()
@handled
def doctor(
    spec: Optional[str] = SPEC_OPT,
    res: Optional[List[str]] = RES_OPT,
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Check only these methods."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Check only these metrics."),
    stand_ins: bool = typer.Option(
        False, "--stand-ins", help="Check a machine without weights: stand-in metric extractors, and the demo's tiny methods unless --spec or -m says otherwise."),
) -> None:
    """Check Python/torch/CUDA/GPU and whether every weight the benchmark needs is present."""
    from ultrabench.doctor import run_doctor

    if stand_ins and spec is None and not method:
        from ultrabench.demo import demo_spec

        the_spec = demo_spec()
    else:
        the_spec = _spec(spec)
    ok = run_doctor(the_spec, weights=_weights(), methods=_names(method), resolutions=_parse_res(res),
                    metrics=_names(metric), echo=typer.echo, stand_ins=stand_ins)
    if not ok:
        raise UltrabenchError("the requested benchmark cannot run here (see the missing items above)")


@app.command()
@handled
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Where the demo run goes."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the demo folder first (only a folder an earlier demo made)."),
) -> None:
    """Run generate -> score -> report end to end on tiny random-weight models (no downloads, CPU)."""
    from ultrabench.demo import run_demo

    run_demo(out, device=G.device or "cpu", fresh=fresh, progress=not G.quiet, console=_console(), echo=typer.echo)


@reference_app.command("build")
@handled
def reference_build(
    source: str = typer.Argument(..., help="Folder of real high-resolution images, or hf:<dataset>[:split[:column]] read offline from datasets' cache or a hub-cache snapshot (huggingface-cli download --repo-type dataset)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Statistics file to write (.npz; default: in the cache)."),
    patch_crops: int = typer.Option(field_default("patch_crops"), "--patch-crops", min=1, help=field_help("patch_crops")),
    patch_size: int = typer.Option(field_default("patch_size"), "--patch-size", help=field_help("patch_size")),
    stand_ins: bool = typer.Option(False, "--stand-ins", help="Random-weight extractors (numbers mean nothing)."),
) -> None:
    """Compute and cache reference statistics for every protocol."""
    from ultrabench.config import check_patch_size
    from ultrabench.scoring import build_reference

    check_patch_size(patch_size, "--patch-size")
    path = build_reference(source, out=out, device=_device(), patch_crops=patch_crops, patch_size=patch_size,
                           stand_ins=stand_ins,
                           weights=_weights())
    typer.echo(f"reference statistics: {path}")


@app.command("import")
@handled
def import_cmd(
    name: str = typer.Argument(..., help="Run-folder name for these images, e.g. dall-e-3."),
    folder: Path = typer.Argument(..., help="Folder holding the images."),
    mapping: Path = typer.Option(..., "--mapping", help="CSV or JSONL with columns prompt_id,file."),
    res: str = typer.Option(..., "--res", "-r", help="The resolution (HxW) these images stand for."),
    out: Optional[str] = OUT_OPT,
    policy: str = typer.Option("reject", "--policy", help="Size mismatch: reject or resize."),
    display_name: Optional[str] = typer.Option(None, "--display-name", help="Name in tables, e.g. 'DALL-E 3'."),
) -> None:
    """Bring images made elsewhere (DALL-E 3, Midjourney, ...) into the run folder."""
    from baselines.imported import import_images
    from ultrabench.generate import spec_prompts
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore

    r = parse_resolution(res)
    _echo_resolutions([r])
    the_spec = _spec(None, out=out)
    # Imported images are scored against prompt texts: a fresh run folder gets the spec's prompt set.
    fresh = not RunStore(the_spec.out).read_prompts()
    result = import_images(the_spec.out, name, folder, mapping, r, policy=policy, display_name=display_name,
                           prompt_set=spec_prompts(the_spec) if fresh else None)
    for line in result.rejected_lines():
        _err(line)
    typer.echo(str(result))
    if result.rejected:
        raise UltrabenchError(f"{len(result.rejected)} file(s) rejected (listed above); "
                              f"the {len(result.imported)} accepted stay imported")


@env_app.command("create")
@handled
def env_create(
    method: str = typer.Argument(..., help="An official-code method: scalecrafter, fouriscale, elasticdiffusion, ultraflux, hiflow, imax or hidiffusion."),
    repo: Path = typer.Option(..., "--repo", help="Your checkout of the official repository."),
    python: Optional[str] = typer.Option(None, "--python", help="Python interpreter for the environment."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands instead of running them."),
) -> None:
    """Build a virtual environment with the pins the official repository asks for."""
    from baselines.envs import create_env

    result = create_env(method, repo, python=python, dry_run=dry_run)
    if isinstance(result, (list, tuple)):
        for line in result:
            typer.echo(line if isinstance(line, str) else " ".join(map(str, line)))
    else:
        typer.echo(f"environment ready: {result}")


def _ignore_further_interrupts() -> None:
    """Once the process is stopping, more Ctrl-C presses must not kill it half-way through its exit
    (Python would then die of the signal, exit status -2, instead of 130)."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # a Ctrl-C outside a command's own handling (start-up, teardown)
        _ignore_further_interrupts()
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
