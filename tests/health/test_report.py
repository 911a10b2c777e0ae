"""The seed's report, rendered from a `/v1/health` answer."""

from __future__ import annotations

import json

from health_monitor.models import HealthReport
from health_monitor.report import render

from tests.health.support.seed import seed_report


def test_the_seed_state_renders_the_seed_sections() -> None:
    text = render(seed_report())
    assert "**Overall System Health Score: 68.4%**" in text
    matrix = text.split("```")[1].strip("\n").splitlines()
    assert matrix[1].strip("│").strip() == "SYNCHRONIZATION STATUS MATRIX"
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in matrix[3:] if "│" in line]
    assert cells[0] == ["Component", "Database", "Oracle", "Sync Status"]
    assert cells[1:] == [
        ["Users", "✅ 2", "✅ 3", "⚠️ Partial"],
        ["Transactions", "✅ 11", "N/A", "✅ Complete"],
        ["Emergency Burns", "❌ 0", "✅ 3", "❌ Not Synced"],
        ["Oracle Operations", "❌ 0", "✅ 14", "❌ Not Logged"],
        ["YieldScales", "✅ Ready", "✅ Ready", "✅ Awaiting"],
    ]
    # Box lines are as wide as each other (emoji count two columns).
    assert len({len(line) for line in matrix if line.startswith(("┌", "├", "└"))}) == 1
    for row in (
        "| **Contract Deployment** | 100% | 25% | 25.0% | ✅ Perfect |",
        "| **Transaction Logging** | 100% | 20% | 20.0% | ✅ Perfect |",
        "| **User Management** | 67% | 20% | 13.4% | ⚠️ Needs Sync |",
        "| **Emergency Burns Sync** | 0% | 15% | 0.0% | ❌ Required |",
        "| **Oracle Operations Log** | 0% | 10% | 0.0% | ❌ Required |",
        "| **YieldScales Ready** | 100% | 10% | 10.0% | ✅ Perfect |",
        "| **TOTAL SYSTEM HEALTH** | - | - | **68.4%** | ⚠️ Operational |",
        "- **Active Users**: 2 (3rd pending sync)",
        "- **Total Transactions**: 11 (8 MINTs, 2 BURNs, 1 DEPOSIT)",
        "- **Total rBTC Tracked**: 238,967 sats",
        "- **Bitcoin Addresses**: 5 verified, 3 monitored",
        "- **Emergency Burns**: 0 in DB (3 in Oracle, 3 known, 251,822 sats)",
    ):
        assert row in text.splitlines(), row


def test_render_takes_the_json_the_endpoint_serves() -> None:
    served = json.loads(seed_report().model_dump_json(by_alias=True))
    assert render(HealthReport.model_validate(served)) == render(seed_report())
