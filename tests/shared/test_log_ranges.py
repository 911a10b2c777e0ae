"""The eth_getLogs range sizer the chain-listener and health share: it grows while answers are
light, cuts to fit heavy ones, and keeps a provider's refusal as a ceiling."""

from __future__ import annotations

from reservesync.log_ranges import RangeSizer


def test_sizer_grows_while_light_and_fits_heavy_answers() -> None:
    sizer = RangeSizer(initial=100, maximum=1000, target_s=2.0, target_logs=1000)
    sizer.succeeded(100, 0.1, 10)
    assert sizer.size == 150
    sizer.succeeded(150, 0.1, 10)
    assert sizer.size == 225
    sizer.succeeded(225, 0.1, 4500)  # 4.5x the log target: cut to fit
    assert sizer.size == 50
    sizer.succeeded(10, 0.1, 1)  # a short range at the head says nothing about the size
    assert sizer.size == 50
    sizer.succeeded(50, 9.0, 1)  # far too slow
    assert sizer.size == 11


def test_sizer_remembers_a_refused_size_as_a_ceiling() -> None:
    sizer = RangeSizer(initial=1000, maximum=5000, target_s=2.0, target_logs=10_000)
    sizer.refused(1000, suggested=20)
    assert (sizer.size, sizer.ceiling) == (20, 20)
    for _ in range(RangeSizer.GROWTH_RUN - 1):
        sizer.succeeded(20, 0.01, 1)
    assert sizer.size == 20, "no growth past a refusal before a run of successes"
    sizer.succeeded(20, 0.01, 1)
    assert (sizer.size, sizer.ceiling) == (25, 25)
    sizer.refused(25, suggested=None)
    assert sizer.size == 12
    sizer.truncated(complete_blocks=3)
    assert sizer.size == 3
    sizer.too_slow(1)
    assert sizer.size == 1


def test_sizer_grows_while_half_again_as_big_fits_the_targets() -> None:
    """A chain dense with logs: each range is checked at its last block with logs, so ranges
    grow up to the target rather than stopping at half of it."""
    sizer = RangeSizer(initial=10, maximum=1000, target_s=2.0, target_logs=1000)
    sizer.succeeded(10, 0.1, 600)  # 1.5 x 600 = 900 logs: still within the target
    assert sizer.size == 15
    sizer.succeeded(15, 0.1, 700)  # 1.5 x 700 would pass it
    assert sizer.size == 15
    sizer.succeeded(15, 1.4, 10)  # 1.5 x 1.4 s would pass the time target
    assert sizer.size == 15
    sizer.succeeded(15, 1.3, 660)  # both within
    assert sizer.size == 22
