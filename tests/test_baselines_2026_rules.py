"""The settings of the 2025-2026 adapters are checked against their allowed ranges at spec load."""

import pytest

from ultrabench.errors import UsageError
from ultrabench.methods.registry import get_method_class

CASES = [  # method, setting, a value out of range, what the one-line message says
    ("sana-4k", "max_sequence_length", 400, "is above 300"),
    ("sana-2k", "bins", "3000", "is not one of"),
    ("flux-dev-2k", "above_max", "crop", "is not one of 'resize', 'unsupported'"),
    ("flux-dev-2k", "num_inference_steps", 0, "is below 1"),
    ("stable-cascade-direct", "cfg_rho", 1.5, "is above 1.0"),
    ("hiflow", "structure_guidance", "wavelet", "is not one of 'fft', 'dwt'"),
    ("imax", "ntk_factor", 0.5, "is below 1.0"),
    ("ultraflux", "max_sequence_length", 1024, "is above 512"),
    ("hidiffusion", "eta", 2.0, "is above 1.0"),
]


@pytest.mark.parametrize("method,key,value,why", CASES)
def test_out_of_range_settings_are_one_line(method, key, value, why):
    cls = get_method_class(method)
    with pytest.raises(UsageError) as e:
        cls({key: value})
    assert str(e.value).startswith(f"method {method!r}: setting {key} = {value!r}") and why in str(e.value)
    assert "\n" not in str(e.value)
    cls()  # the defaults themselves are in range
