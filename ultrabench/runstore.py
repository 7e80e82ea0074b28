"""The run folder: images and one JSON record per unit, written atomically, resumable.

Layout (all names derived from ids, never from prompt text):

    <out>/run.json                      provenance of the latest invocation + frozen, resolved config
    <out>/invocations.jsonl             one line per invocation (append-only history)
    <out>/prompts.jsonl                 the sampled prompt set: {"id", "prompt", "reference"?}
    <out>/<method>/<H>x<W>/<stem>.png   the image (PNG, lossless)
    <out>/<method>/<H>x<W>/<stem>.json  the unit record; written last, so its presence marks completion
    <out>/scores/ ...                   written by `ultrabench score`
    <out>/report/ ...                   written by `ultrabench report`

`<stem>` is `<safe prompt id>__s<seed>`. A unit is finished when its record parses and has a final
status (`ok` with its image present, or `unsupported`); `oom` and `error` are final too unless the
caller asks to retry failures.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ultrabench.errors import UltrabenchError, UsageError, write_failure, write_probe_name
from ultrabench.resolution import Resolution, parse_resolution

RECORD_SCHEMA = 1
STATUSES = ("ok", "oom", "error", "unsupported")
FAILED = ("oom", "error")
# Top-level names the run store itself uses; a method may not be called any of these.
RESERVED_NAMES = frozenset({"scores", "report", "cache", "logs", "tmp"})

_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_METHOD_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def safe_id(prompt_id: str) -> str:
    """A file-name-safe form of a prompt id: no separators, no leading dots, bounded length.

    Ids that had to be changed get a short hash of the original appended, so two different ids
    ("a/b" and "a_b") can never share a file.
    """
    raw = str(prompt_id)
    s = _SAFE_RE.sub("_", raw).lstrip(".")
    if not s:
        raise UsageError(f"prompt id {prompt_id!r} has no usable characters for a file name")
    if s != raw or len(s) > 100:
        s = f"{s[:100]}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return s


def unit_stem(prompt_id: str, seed: int) -> str:
    return f"{safe_id(prompt_id)}__s{int(seed)}"


def check_method_name(name: str) -> str:
    if not _METHOD_RE.match(name) or name in RESERVED_NAMES:
        raise UsageError(
            f"method name {name!r} is not usable as a run folder name "
            "(lowercase letters, digits, '.', '_', '-'; not scores/report/cache/logs/tmp)"
        )
    return name


@dataclass(frozen=True)
class Unit:
    """One image to produce: (method, resolution, prompt, seed)."""

    method: str
    resolution: Resolution
    prompt_id: str
    prompt: str
    seed: int
    sample_index: int = 0

    @property
    def stem(self) -> str:
        return unit_stem(self.prompt_id, self.seed)

    @property
    def unit_id(self) -> str:
        return f"{self.method}/{self.resolution.key}/{self.stem}"


@dataclass
class UnitRecord:
    """A parsed record plus where its files are."""

    data: dict[str, Any]
    record_path: Path

    @property
    def method(self) -> str:
        return self.data["method"]

    @property
    def resolution(self) -> Resolution:
        return parse_resolution(self.data["resolution"])

    @property
    def prompt_id(self) -> str:
        return self.data["prompt_id"]

    @property
    def prompt(self) -> str:
        return self.data.get("prompt", "")

    @property
    def seed(self) -> int:
        return int(self.data["seed"])

    @property
    def status(self) -> str:
        return self.data.get("status", "error")

    @property
    def image_path(self) -> Path | None:
        name = self.data.get("image")
        return self.record_path.parent / name if name else None

    @property
    def warmup(self) -> bool:
        return bool(self.data.get("warmup", False))


HOST = socket.gethostname().replace("-", "_")
# How long a claim from another machine is honoured after its holder last refreshed it: the holder's
# process cannot be checked from here, and a node that failed or a job the scheduler killed leaves
# its locks behind. Holders refresh theirs every HEARTBEAT_SECONDS; the margin covers clock skew.
STALE_CLAIM_SECONDS = 15 * 60
HEARTBEAT_SECONDS = 60.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Heartbeat:
    """Touches every lock this process holds, so other machines can tell a live claim from a dead one's."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.lock = threading.Lock()
        self.pid: int | None = None

    def add(self, path: Path) -> None:
        with self.lock:
            self.paths.add(path)
            if self.pid != os.getpid():  # first claim, or a forked child: the thread is not running here
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="ultrabench-claims", daemon=True).start()

    def discard(self, path: Path) -> None:
        with self.lock:
            self.paths.discard(path)

    def _run(self) -> None:
        me = os.getpid()
        while self.pid == me:
            time.sleep(HEARTBEAT_SECONDS)
            with self.lock:
                held = list(self.paths)
            for p in held:
                try:
                    os.utime(p)
                except OSError:
                    pass


_HEARTBEAT = _Heartbeat()


def claim_file(path: Path) -> bool:
    """Create the lock file `path` (O_EXCL); False when a live process holds it. A lock of a dead
    process on this host, one cut short by a crash, or one from another machine that its holder has
    not refreshed for STALE_CLAIM_SECONDS is recovered."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"host": HOST, "pid": os.getpid(), "time": time.time()}).encode()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _lock_is_stale(path):
                return False
            # Renaming first makes recovery atomic: of two recoverers only one moves the lock.
            moved = path.with_name(f"{path.name}.stale-{HOST}-{os.getpid()}")
            try:
                os.replace(path, moved)
                os.unlink(moved)
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        _HEARTBEAT.add(path)
        return True
    return False


def release_file(path: Path) -> None:
    _HEARTBEAT.discard(Path(path))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


UNWRITTEN_LOCK_SECONDS = 10.0


def _lock_is_stale(path: Path) -> bool:
    try:
        info = json.loads(path.read_text())
        host, pid = info["host"], int(info["pid"])
        refreshed = path.stat().st_mtime
    except FileNotFoundError:
        return False
    except (ValueError, KeyError, TypeError, OSError):
        # Cut short by a crash, or being written this instant (O_EXCL create, then the payload): only
        # an old one is dead, else another command's clean-up could take a claim as it is made.
        try:
            return time.time() - path.stat().st_mtime > UNWRITTEN_LOCK_SECONDS
        except FileNotFoundError:
            return False
    if host == HOST:
        return not _pid_alive(pid)
    return time.time() - refreshed > STALE_CLAIM_SECONDS


def _temp_prefix(name: str) -> str:
    # host and pid in the name let a later run tell a crashed writer's leftovers from a live one's.
    return f".tmp-{HOST}-{os.getpid()}-{name}."


def _umask() -> int:
    """The process umask, read without changing it where the system allows (setting it, even for
    an instant, would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: Path, suffix: str = "") -> Iterator[Any]:
    """A binary file to write `path` through: a temporary file beside it, renamed over it when the
    block ends without error, removed otherwise. Every temporary file of a run folder is made here,
    so `clean_leftovers` can tell a dead writer's by its name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file 0600; the result must be what any file the user creates would be
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    with atomic_file(path) as f:
        f.write(payload)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(Path(path), (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def atomic_save_png(path: Path, image) -> None:
    """Save a PIL image as PNG through a temporary file and a rename: never a half-written PNG."""
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(Path(path), buf.getvalue())


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is damaged (not UTF-8 text); move it away") from None
    except OSError as e:
        raise UltrabenchError(f"cannot read {path}: {e.strerror or e}") from None


class RunStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths --------------------------------------------------------------------------------
    def unit_dir(self, method: str, res: Resolution) -> Path:
        return self.root / check_method_name(method) / res.key

    def image_path(self, unit: Unit) -> Path:
        return self.unit_dir(unit.method, unit.resolution) / f"{unit.stem}.png"

    def record_path(self, unit: Unit) -> Path:
        return self.unit_dir(unit.method, unit.resolution) / f"{unit.stem}.json"

    # -- reading ----------------------------------------------------------------------------------
    def read_record(self, unit: Unit) -> dict[str, Any] | None:
        """The unit's record, or None when absent or unreadable (a crash leftover is redone)."""
        try:
            data = json.loads(self.record_path(unit).read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None
        if not isinstance(data, dict) or data.get("status") not in STATUSES:
            return None
        return data

    def is_finished(self, unit: Unit, retry_failed: bool = False, settings_hash: str | None = None) -> bool:
        """Whether the unit needs no more work. A record made with other method settings than
        `settings_hash` (a spec changed with --new-spec) is not finished: it is redone in place."""
        rec = self.read_record(unit)
        if rec is None:
            return False
        if settings_hash and rec.get("settings_hash") not in (None, settings_hash):
            return False
        if rec["status"] == "ok":
            return self.image_path(unit).is_file()
        if rec["status"] in FAILED:
            return not retry_failed
        return True

    def records(
        self,
        method: str | None = None,
        resolution: Resolution | None = None,
        statuses: tuple[str, ...] | None = ("ok",),
    ) -> Iterator[UnitRecord]:
        """Records in a stable order (method, resolution, file name); unreadable ones are skipped."""
        if not self.root.is_dir():
            return
        for mdir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if mdir.name in RESERVED_NAMES or mdir.name.startswith(".") or (method and mdir.name != method):
                continue
            for rdir in sorted(p for p in mdir.iterdir() if p.is_dir()):
                if resolution and rdir.name != resolution.key:
                    continue
                for rp in sorted(rdir.glob("*.json")):
                    try:
                        data = json.loads(rp.read_text())
                    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
                        continue
                    if not isinstance(data, dict) or "method" not in data:
                        continue
                    rec = UnitRecord(data, rp)
                    if statuses is None or rec.status in statuses:
                        if rec.status == "ok" and not (rec.image_path and rec.image_path.is_file()):
                            continue
                        yield rec

    def methods(self) -> list[str]:
        return sorted({r.method for r in self.records(statuses=None)})

    def read_prompts(self) -> list[dict[str, Any]]:
        p = self.root / "prompts.jsonl"
        if not p.is_file():
            return []
        out = []
        for n, line in enumerate(_read_text(p).splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{p} is damaged (line {n}: {e.msg}); it is rewritten from the spec by the next "
                                 "`ultrabench generate` once you move it away") from None
            if not isinstance(row, dict) or "id" not in row:
                raise UsageError(f"{p} is damaged (line {n} is not a prompt record); move it away and rerun generate")
            out.append(row)
        return out

    def read_run_info(self) -> dict[str, Any]:
        """run.json, or {} when absent; a damaged one is named with how to recover it."""
        p = self.root / "run.json"
        if not p.is_file():
            return {}
        try:
            data = json.loads(_read_text(p))
        except json.JSONDecodeError as e:
            data, why = None, f"{e.msg} at line {e.lineno}"
        else:
            why = "not a JSON object"
        if not isinstance(data, dict):
            raise UsageError(f"{p} is damaged ({why}); restore it from the last line of invocations.jsonl "
                             f"(`tail -n 1 {self.root / 'invocations.jsonl'} > {p}`), or move it away")
        return data

    # -- writing ----------------------------------------------------------------------------------
    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / write_probe_name()
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise UltrabenchError(f"cannot write to run folder {self.root}: {e.strerror or e}") from e

    def write_unit(self, unit: Unit, record: dict[str, Any], image=None) -> None:
        """Image first, record last: a record always points at a complete image."""
        rec = {
            "schema": RECORD_SCHEMA,
            "unit_id": unit.unit_id,
            "method": unit.method,
            "resolution": unit.resolution.key,
            "requested": [unit.resolution.height, unit.resolution.width],
            "prompt_id": unit.prompt_id,
            "prompt": unit.prompt,
            "seed": unit.seed,
            "sample_index": unit.sample_index,
            "image": None,
            **record,
        }
        if rec.get("status") not in STATUSES:
            raise ValueError(f"bad status {rec.get('status')!r}")
        try:
            if image is not None:
                atomic_save_png(self.image_path(unit), image)
                rec["image"] = self.image_path(unit).name
                rec["delivered"] = [image.height, image.width]
            atomic_write_json(self.record_path(unit), rec)
        except OSError as e:
            # Full disk, read-only mount, quota: stop with one line; finished units stay as they are.
            raise UltrabenchError(
                f"cannot write unit {unit.unit_id} in {self.root}: {e.strerror or e}; finished units are kept"
            ) from e

    # -- claims: two processes never produce the same unit ---------------------------------------
    def lock_path(self, unit: Unit) -> Path:
        return self.unit_dir(unit.method, unit.resolution) / f"{unit.stem}.lock"

    def claim(self, unit: Unit) -> bool:
        """Take the unit's lock; False when a live process holds it. Stale locks are recovered."""
        return claim_file(self.lock_path(unit))

    def release(self, unit: Unit) -> None:
        release_file(self.lock_path(unit))

    def clean_leftovers(self) -> int:
        """Remove what dead writers left anywhere in the run folder: see `clean_leftovers`."""
        return clean_leftovers(self.root, claims=True)

    def write_prompts(self, prompts) -> None:
        lines = [json.dumps({k: v for k, v in p.to_dict().items() if v is not None}, ensure_ascii=False) for p in prompts]
        path = self.root / "prompts.jsonl"
        try:
            atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
        except OSError as e:  # full disk, read-only folder: the old file stays whole (atomic rename)
            raise write_failure(path, e) from None

    def write_run_info(self, info: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.root / "run.json", info)
        except OSError as e:
            raise write_failure(self.root / "run.json", e) from None

    def log_invocation(self, info: dict[str, Any]) -> None:
        """Append one line to the history (one write call, so concurrent appends do not interleave)."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(info, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(self.root / "invocations.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _dead_writer(host: str, pid: int, path: Path) -> bool:
    """Whether the process named in a leftover's name is gone: checked on this host, presumed
    after STALE_CLAIM_SECONDS of silence elsewhere."""
    if host == HOST:
        return not _pid_alive(pid)
    try:
        return time.time() - path.stat().st_mtime > STALE_CLAIM_SECONDS
    except FileNotFoundError:
        return False


def clean_leftovers(root: str | Path, claims: bool = False) -> int:
    """Remove, anywhere under `root`, the temporary files (`atomic_file`), write probes and
    half-recovered locks of processes that died; with `claims`, also the unit claims (`RunStore.claim`)
    of dead processes, so none outlives the next command that writes here. The number removed."""
    root = Path(root)
    removed = 0
    if not root.is_dir():
        return 0
    for dirpath, _, names in os.walk(root):
        where = Path(dirpath)
        depth = len(where.relative_to(root).parts)
        for name in names:
            p = where / name
            if name.startswith(".tmp-"):  # .tmp-<host>-<pid>-<name>.<random>
                parts = name.split("-", 3)
            elif name.startswith(".write-probe-"):  # .write-probe-<host>-<pid> (errors.write_probe_name)
                parts = name.rsplit("-", 2)
            elif ".lock.stale-" in name:  # <stem>.lock.stale-<host>-<pid>
                parts = ["", *name.split(".lock.stale-", 1)[1].rsplit("-", 1)]
            elif (claims and name.endswith(".lock") and depth == 2 and where.parent.name not in RESERVED_NAMES
                  and _lock_is_stale(p)):
                parts = None  # a unit claim whose process is gone (flock files elsewhere are left alone)
            else:
                continue
            if parts is not None:
                try:
                    host, pid = parts[1], int(parts[2])
                except (IndexError, ValueError):
                    continue
                if not _dead_writer(host, pid, p):
                    continue
            try:
                if parts is None:  # as `claim` recovers a lock: of two recoverers only one moves it
                    moved = p.with_name(f"{name}.stale-{HOST}-{os.getpid()}")
                    os.replace(p, moved)
                    p = moved
                p.unlink()
                removed += 1
            except OSError:  # gone already, or a folder we may not write: left for a later run
                pass
    return removed
