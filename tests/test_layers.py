"""The house's floors, read from the imports themselves: the shared library imports no
service; the local infrastructure (`devstack`) stands beside the services and imports only the
shared library; no service imports another, the infrastructure or the scenarios; nothing but
tests and benchmarks imports the scenarios."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "chain_listener": "services/chain-listener/src/chain_listener",
    "bitcoin_listener": "services/bitcoin-listener/src/bitcoin_listener",
    "db_writer": "services/db-writer/src/db_writer",
    "oracle_logger": "services/oracle-logger/src/oracle_logger",
    "health_monitor": "services/health/src/health_monitor",
    "realtime_api": "services/api/src/realtime_api",
}
OURS = {"reservesync", "devstack", "scenarios", *SERVICES}


def imported(package_dir: str) -> Iterator[tuple[Path, str]]:
    """(file, top-level package) of every absolute import of one of our packages."""
    for path in sorted((ROOT / package_dir).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in OURS:
                    yield path.relative_to(ROOT), top


def crossings(package_dir: str, allowed: set[str]) -> list[str]:
    return [f"{path} imports {top}" for path, top in imported(package_dir) if top not in allowed]


def test_the_packages_are_where_the_test_reads_them() -> None:
    for package_dir in (*SERVICES.values(), "shared/src/reservesync", "stack/src/devstack"):
        assert (ROOT / package_dir / "__init__.py").is_file(), package_dir
    assert (ROOT / "scenarios/src/scenarios/__init__.py").is_file()


def test_the_shared_library_imports_only_itself() -> None:
    assert crossings("shared/src/reservesync", {"reservesync"}) == []


def test_the_infrastructure_stands_beside_the_services() -> None:
    assert crossings("stack/src/devstack", {"reservesync", "devstack"}) == []


@pytest.mark.parametrize("package", sorted(SERVICES))
def test_a_service_imports_only_shared_and_itself(package: str) -> None:
    assert crossings(SERVICES[package], {"reservesync", package}) == []


def test_the_scenarios_import_what_is_below_them() -> None:
    """They may use every floor; the check is that the walk finds their imports at all."""
    found = {top for _, top in imported("scenarios/src/scenarios")}
    assert {"devstack", "reservesync", "scenarios"} <= found
