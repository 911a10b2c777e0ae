"""The command line: `--help` lists the settings and touches nothing; a bad setting is one line."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bitcoin_listener", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_settings_without_side_effects() -> None:
    # An unreachable Kafka: a command that connected anywhere would hang or fail, not print help.
    done = _run(
        "--help", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", BITCOIN_RPC_URL="http://127.0.0.1:1"
    )
    assert done.returncode == 0, done.stderr
    for setting in (
        "BTC_CONFIRMATIONS",
        "BITCOIN_RPC_URL",
        "BTC_ESPLORA_URL",
        "BITCOIN_START_HEIGHT",
        "BITCOIN_NETWORK",
    ):
        assert setting in done.stdout
    assert done.stderr == ""


def test_a_bad_setting_is_one_clear_line() -> None:
    done = _run(BTC_CONFIRMATIONS="several")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "BTC_CONFIRMATIONS" in lines[0]
    done = _run(BITCOIN_RPC_USER="only-a-user")
    assert done.returncode == 2
    assert "BITCOIN_RPC_PASSWORD" in done.stderr


def test_two_bitcoin_sources_are_refused() -> None:
    done = _run(BITCOIN_RPC_URL="http://127.0.0.1:1", BTC_ESPLORA_URL="http://127.0.0.1:2/api")
    assert done.returncode == 2
    assert "set BTC_ESPLORA_URL or BITCOIN_RPC_URL" in done.stderr
    done = _run(BTC_ESPLORA_URL="ftp://127.0.0.1:2")
    assert done.returncode == 2
    assert "BTC_ESPLORA_URL" in done.stderr
