"""Reliability as a property (issue #25): hypothesis draws sequences of CLI commands on the tiny
methods and stand-in extractors, interrupts them (kill -9, SIGINT, SIGTERM at the k-th file-system
write, a full disk, a read-only folder, a second command at the same time), and after every step
checks the invariants of `reliability_harness.Machine` on disk. A failing sequence is shrunk by
hypothesis and printed as the shell commands that reproduce it.

CI runs a fixed number of examples with derandomized draws (the same sequences every run);
`benchmarks/soak.py` runs the same machine with new seeds for as long as asked.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is in the test extra: pip install -e '.[test]'")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

import reliability_harness as H  # noqa: E402
from reliability_sequences import CliSequences  # noqa: E402

# sized for CI's 3 minutes on the 2-core VM (about 40 CLI processes); benchmarks/soak.py runs more
CI_EXAMPLES = int(os.environ.get("ULTRABENCH_RELIABILITY_EXAMPLES", "4"))
CI_STEPS = int(os.environ.get("ULTRABENCH_RELIABILITY_STEPS", "5"))


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    base = tmp_path_factory.mktemp("reliability")
    runner = H.Runner(cache=base / "cache")
    CliSequences.runner, CliSequences.figures, CliSequences.base = runner, H.Figures(), base
    yield CliSequences.figures
    runner.close()


@pytest.mark.slow
def test_command_sequences_under_faults_keep_every_invariant(harness):
    run_state_machine_as_test(CliSequences, settings=settings(
        max_examples=CI_EXAMPLES, stateful_step_count=CI_STEPS, derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), print_blob=False))
    print(harness.as_dict())
    assert harness.sequences >= CI_EXAMPLES and sum(harness.faults.values()) > 0, harness.as_dict()
