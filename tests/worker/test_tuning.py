"""The worker's interpreter settings take effect on this machine's C library."""

from __future__ import annotations

import platform

import pytest

from spur.worker.tuning import fix_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc setting")
def test_glibc_takes_the_fixed_mmap_threshold() -> None:
    assert fix_mmap_threshold()  # mallopt answers 1 when it took the setting
