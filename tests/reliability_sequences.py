"""The hypothesis state machine of the reliability tests (issue #25): which commands, faults and
damage a sequence draws; `reliability_harness.Machine` runs each step and checks the invariants.
Shared by tests/test_reliability_stateful.py (CI: fixed examples, derandomized) and
benchmarks/soak.py (new seeds for as long as asked)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

import reliability_harness as H

SIGNALS = st.builds(H.Fault, st.sampled_from(["KILL", "KILL", "INT", "TERM"]), st.one_of(st.integers(1, 8), st.integers(1, 30)))
DISK = st.one_of(st.builds(H.Fault, st.just("full"), st.sampled_from([0, 2048, 12000, 40000])),
                 st.just(H.Fault("ro")))
FAULTS = st.one_of(st.none(), SIGNALS, SIGNALS, DISK)


class CliSequences(RuleBasedStateMachine):
    """One sandbox per example; `runner` (the CLI fork server) and `figures` are shared by all."""

    runner: H.Runner = None
    figures: H.Figures = None
    base: Path = None

    def __init__(self):
        super().__init__()
        cls = type(self)
        cls.figures.sequences += 1
        root = Path(tempfile.mkdtemp(prefix="seq-", dir=cls.base))
        self.sandbox = H.Sandbox(root, cls.base / "cache")
        self.m = H.Machine(cls.runner, self.sandbox, cls.figures)
        self.made = {"run": False, "run2": False}

    def teardown(self):
        self.sandbox.close()

    @initialize(n=st.integers(2, 3), seed=st.integers(0, 1))
    def first_generate(self, n, seed):
        self.m.do(H.Step(H.gen_cmd("run", n=n, seed=seed)))
        self.made["run"] = True

    @rule(methods=st.sampled_from([("tiny-sd",), ("tiny-sd", "tiny-sd-sr")]), n=st.integers(2, 4),
          seed=st.integers(0, 1), mode=st.sampled_from([None, None, "extend", "new-spec"]), retry=st.booleans(),
          shard=st.sampled_from([None, None, "0/2", "1/2"]), fault=FAULTS)
    def generate(self, methods, n, seed, mode, retry, shard, fault):
        self.m.do(H.Step(H.gen_cmd("run", methods, n, seed, mode, retry, shard), fault))

    @rule(metrics=st.lists(st.sampled_from(H.METRICS), min_size=1, max_size=4, unique=True),
          reference=st.sampled_from(["refA", "refA", "refB", None]), workers=st.sampled_from([0, 0, 1]),
          fault=FAULTS)
    def score(self, metrics, reference, workers, fault):
        if reference is None and set(metrics) <= set(H.REFERENCE_METRICS):
            metrics = metrics + ["clip"]
        self.m.do(H.Step(H.score_cmd("run", tuple(metrics), reference, workers), fault))

    @rule(out=st.sampled_from([None, "rep"]), fault=st.one_of(st.none(), SIGNALS, DISK))
    def report(self, out, fault):
        self.m.do(H.Step(H.report_cmd("run", out), fault))

    @rule(fault=st.one_of(st.none(), SIGNALS))
    def import_images(self, fault):
        self.m.do(H.Step(H.import_cmd("run"), fault))

    @rule(kind=st.sampled_from(["delete", "truncate"]), i=st.integers(0, 5))
    def damage(self, kind, i):
        self.m.do(H.Step(damage=(kind, "run", i)))

    @rule(pair=st.sampled_from(["generate+generate", "generate+score", "score+report", "score+score"]),
          shards=st.booleans())
    def at_once(self, pair, shards):
        n = 3
        make = {"generate": lambda k: H.gen_cmd("run", ("tiny-sd", "tiny-sd-sr"), n, 0, "extend" if k else None,
                                                 shard=f"{k}/2" if shards else None),
                "score": lambda k: H.score_cmd("run", ("fid", "clip") if k else ("is", "glcm"), "refA"),
                "report": lambda k: H.report_cmd("run", "rep")}
        a, b = pair.split("+")
        self.m.do(H.Step(make[a](0), other=make[b](1)))

    @precondition(lambda self: self.made["run"])
    @rule(fault=st.one_of(st.none(), SIGNALS))
    def compare(self, fault):
        if not self.made["run2"]:  # a second run folder of the same experiment, scored
            self.m.do(H.Step(H.gen_cmd("run2", ("tiny-sd-sr",), 2, 0, "new-spec")))
            self.m.do(H.Step(H.score_cmd("run2", ("clip", "is"), "refA")))
            self.made["run2"] = True
        self.m.do(H.Step(H.compare_cmd(), fault))


