"""Feature extractors: each takes a local weights path or an injected module; stand-ins are
random-weight models of the same architectures, built locally (tests, demo, benchmarks)."""
