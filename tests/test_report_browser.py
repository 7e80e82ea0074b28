"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

The protocol runs over `--remote-debugging-pipe` (fds 3 and 4, NUL-separated JSON), so the test
needs no websocket client or Playwright: only Debian's `chromium` package.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium); browser test skipped")


class CDP:
    def __init__(self, binary: str, profile: str) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                "--remote-debugging-pipe", "--window-size=1400,1800", "about:blank"]
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', binary, *args],
            pass_fds=(to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.events):
            if m.get("method") == name:
                return self.events.pop(i)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == name:
                return m
            self.events.append(m)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._w)
        os.close(self._r)


def _errors(events: list[dict]) -> list[str]:
    out = []
    for m in events:
        p = m.get("params", {})
        if m.get("method") == "Runtime.exceptionThrown":
            out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
        elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(json.dumps(p.get("args"))[:500])
        elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(p["entry"].get("text", "")[:500])
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from ultrabench.report import build_report
    from ultrabench.report.demo import make_demo_run

    run = make_demo_run(tmp_path_factory.mktemp("browser") / "run")
    html = build_report(run, formats=("html",), extra_columns=("winrate",))["files"]["html"]
    with tempfile.TemporaryDirectory() as profile:
        cdp = CDP(CHROMIUM, profile)
        try:
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                cdp.send(f"{domain}.enable", session=session)
            cdp.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
            cdp.wait_event("Page.loadEventFired")

            def js(expr: str):
                r = cdp.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                             session=session)
                assert "exceptionDetails" not in r, r
                return r["result"].get("value")

            yield cdp, session, js
        finally:
            cdp.close()


def test_page_loads_without_console_errors(page):
    cdp, _, js = page
    assert js("document.title").startswith("ultrabench report")
    cdp.pump(1.0)
    assert _errors(cdp.events) == []


def test_table_has_expected_rows(page):
    _, _, js = page
    rows = js("""Array.from(document.querySelectorAll('table.t1 tbody')).map(tb =>
                   [tb.dataset.resolution, Array.from(tb.querySelectorAll('tr')).map(tr => tr.dataset.method)])""")
    assert rows == [["1024x1792", ["demofusion", "pixart-sigma", "ultrapixel"]],
                    ["2048x2048", ["demofusion", "pixart-sigma", "ultrapixel"]]]
    assert js("document.querySelectorAll('table.t1 strong').length") > 0


def test_zoom_updates_every_panel(page):
    cdp, session, js = page
    group = "document.querySelector('section.prompt .group[data-resolution=\"2048x2048\"]')"
    read = f"""Array.from({group}.querySelectorAll('.zoom')).map(z => ({{x: +z.dataset.x, y: +z.dataset.y,
                 pos: z.style.backgroundPosition, img: z.style.backgroundImage, w: +z.dataset.w}}))"""
    before = js(read)
    assert len(before) == 3
    box = js(f"""(() => {{ const t = {group}.querySelector('.thumb'); t.scrollIntoView({{block: 'center'}});
                 const r = t.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }})()""")
    x, y = box[0] + 0.3 * box[2], box[1] + 0.7 * box[3]
    for kind in ("mousePressed", "mouseReleased"):
        cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                 session=session)
    after = js(read)
    assert all(a["pos"] != b["pos"] for a, b in zip(after, before)), (before, after)
    # Same-size images: every panel shows exactly the same native-pixel window.
    assert len({(a["x"], a["y"]) for a in after}) == 1
    assert after[0]["x"] < before[0]["x"] and after[0]["y"] > before[0]["y"]
    assert all(a["img"].startswith('url("') and ".png" in a["img"] for a in after)
    sel = js(f"Array.from({group}.querySelectorAll('.sel')).map(s => s.style.display)")
    assert sel == ["block"] * 3
    cdp.pump(1.0)  # full images load now; a broken link would log an error
    assert _errors(cdp.events) == []
