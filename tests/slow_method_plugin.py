"""A test method installed through the `ultrabench.methods` entry point (see stealing_helpers.py):
flat images whose grey level comes from the seed, each taking UB_SLOW_SECONDS of this process (so
two shards can run at different speeds), every start and end logged to UB_SLOW_LOG; with
UB_SLOW_BARRIER, load() waits until that file exists."""

import json
import os
import time

from ultrabench.methods.base import GeneratedImage, Method


def _log(event: str, prompt: str, seed: int) -> None:
    line = json.dumps({"event": event, "prompt": prompt, "seed": seed, "pid": os.getpid(), "t": time.time()})
    fd = os.open(os.environ["UB_SLOW_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one write: lines of concurrent processes never interleave
    finally:
        os.close(fd)


class SlowFlat(Method):
    name = "ub-slow"
    display_name = "slow flat (test)"
    description = "flat images at a per-process pace (tests only)"
    max_batch_size = 1

    def load(self):
        _log("ready", "", 0)
        barrier = os.environ.get("UB_SLOW_BARRIER")  # start together: one process's start-up is not the other's
        deadline = time.time() + 300
        while barrier and not os.path.exists(barrier) and time.time() < deadline:
            time.sleep(0.01)

    def generate(self, prompts, seeds, res):
        from PIL import Image

        out = []
        for prompt, seed in zip(prompts, seeds):
            _log("start", prompt, seed)
            time.sleep(float(os.environ.get("UB_SLOW_SECONDS", "0")))
            out.append(GeneratedImage(Image.new("RGB", (res.width, res.height), (seed % 256,) * 3), {}, res))
            _log("end", prompt, seed)
        return out
