"""pasta's version gate: dated releases at or after the minimum pass; anything else is refused."""

from __future__ import annotations

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network.pasta import check_version


@pytest.mark.parametrize("line", ["pasta 2023_06_25.32660ce", "pasta 2023_12_04.b86afe3", "pasta 2025_01_21.4f2c8e7",
                                  "pasta 0.0~git20261002.cba3570-1", "pasta 0.0~git20250503.587980c-2+deb13u1"])
def test_new_enough(line):
    check_version(line)


@pytest.mark.parametrize("line", ["pasta unknown version", "pasta 2023_03_09.7c7625d", "pasta 2022_11_16.ace074c", ""])
def test_refused(line):
    with pytest.raises(RootlessKitError, match="needs passt 2023_06_25.32660ce or later"):
        check_version(line)
