"""The seed's report from live data: `python -m health_monitor.report [--url HEALTH_URL]`.

`render(report)` is a pure function of the `/v1/health` answer, so anything holding one (the
demo, a test) prints the same Markdown: the synchronization status matrix, the system health
metrics table and the current usage statistics, in the seed's words.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
import urllib.error
import urllib.request

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from reservesync import cli

from health_monitor.domain.score import Component, SyncStatus
from health_monitor.models import HealthReport, Overall

OK, WARN, BAD = "✅", "⚠️", "❌"
METRIC_STATUS = {
    SyncStatus.COMPLETE: f"{OK} Perfect",
    SyncStatus.PARTIAL: f"{WARN} Needs Sync",
    SyncStatus.NOT_SYNCED: f"{BAD} Required",
}
MATRIX_STATUS = {
    SyncStatus.COMPLETE: f"{OK} Complete",
    SyncStatus.PARTIAL: f"{WARN} Partial",
    SyncStatus.NOT_SYNCED: f"{BAD} Not Synced",
}
SEED_NOTES = {"Not logged": f"{BAD} Not Logged", "Awaiting participants": f"{OK} Awaiting"}


def render(report: HealthReport) -> str:
    lines = [
        "# ReserveSync Synchronization Report",
        "",
        f"**Overall System Health Score: {percent_text(report.score)}** "
        f"({report.overall.value}, computed {report.computed_at:%Y-%m-%d %H:%M:%S} UTC)",
    ]
    if not report.sources_ready:
        lines += ["", f"{WARN} The health service is still reading the topics: sources partial."]
    lines += ["", "## Synchronization Status Matrix", "", "```", *_matrix(report), "```"]
    lines += ["", "## System Health Metrics", "", *_metrics(report)]
    lines += ["", "## Current Usage Statistics", "", *_usage(report)]
    if report.lag:
        lines += ["", "## Consumer Lag", "", *_lag(report)]
    if report.alerts:
        lines += ["", "## Alerts Firing", ""]
        lines += [f"- **{a.severity.value}** {a.summary}" for a in report.alerts]
    return "\n".join(lines) + "\n"


def _matrix(report: HealthReport) -> list[str]:
    rows = [("Component", "Database", "Oracle", "Sync Status")]
    for row in report.matrix:
        status = SEED_NOTES.get(row.note or "", MATRIX_STATUS[row.status])
        rows.append((row.component, _side(row.database), _side(row.oracle), status))
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    inner = sum(widths) + 3 * len(widths) - 1
    title = "SYNCHRONIZATION STATUS MATRIX"
    left = (inner - len(title)) // 2
    return [
        "┌" + "─" * inner + "┐",
        "│" + " " * left + title + " " * (inner - left - len(title)) + "│",
        "├" + "─" * inner + "┤",
        _boxed(rows[0], widths),
        "├" + "┼".join("─" * (w + 2) for w in widths) + "┤",
        *(_boxed(r, widths) for r in rows[1:]),
        "└" + "┴".join("─" * (w + 2) for w in widths) + "┘",
    ]


def _side(value: int | str) -> str:
    if isinstance(value, int):
        return f"{OK if value > 0 else BAD} {value:,}"
    if value == "N/A":
        return value
    return f"{OK if value == 'Ready' else BAD} {value}"


def _boxed(cells: tuple[str, ...], widths: list[int]) -> str:
    return (
        "│"
        + "│".join(f" {c}{' ' * (w - _width(c))} " for c, w in zip(cells, widths, strict=True))
        + "│"
    )


def _metrics(report: HealthReport) -> list[str]:
    lines = [
        "| Component | Score | Weight | Contribution | Status |",
        "|-----------|-------|--------|--------------|--------|",
    ]
    for c in report.components:
        lines.append(
            f"| **{c.title}** | {c.percent}% | {c.weight}% | {percent_text(c.contribution)} "
            f"| {METRIC_STATUS[c.status]} |"
        )
    if report.score >= 100:
        overall = f"{OK} Perfect"
    elif report.overall is Overall.HEALTHY:
        overall = f"{OK} Healthy"
    else:
        overall = f"{WARN} Operational"
    total = percent_text(report.score)
    lines.append(f"| **TOTAL SYSTEM HEALTH** | - | - | **{total}** | {overall} |")
    return lines


def _usage(report: HealthReport) -> list[str]:
    usage = report.usage
    users = f"{usage.active_users:,}"
    if usage.users_pending == 1:
        users += f" ({_ordinal(usage.active_users + 1)} pending sync)"
    elif usage.users_pending:
        users += f" ({usage.users_pending:,} pending sync)"
    kinds = sorted(usage.transactions_by_type.items(), key=lambda kv: (-kv[1], kv[0]))
    breakdown = ", ".join(f"{n:,} {kind}{'s' if n != 1 else ''}" for kind, n in kinds)
    transactions = f"{usage.total_transactions:,}" + (f" ({breakdown})" if breakdown else "")
    burns = next(c for c in report.components if c.component is Component.EMERGENCY_BURNS)
    return [
        f"- **Active Users**: {users}",
        f"- **Total Transactions**: {transactions}",
        f"- **Total rBTC Tracked**: {usage.rbtc_tracked_sats:,} sats",
        f"- **Bitcoin Addresses**: {usage.bitcoin_addresses_verified:,} verified, "
        f"{usage.bitcoin_addresses_monitored:,} monitored",
        f"- **Emergency Burns**: {usage.emergency_burns_database:,} in DB "
        f"({usage.emergency_burns_oracle:,} in Oracle, {burns.source_count:,} known, "
        f"{usage.emergency_burned_sats:,} sats)",
    ]


def _lag(report: HealthReport) -> list[str]:
    lines = ["| Group | Status | Lag (messages) | Oldest (s) |", "|---|---|---|---|"]
    for group in report.lag:
        lines.append(
            f"| {group.group} | {group.status.value} | {group.lag:,} | "
            f"{group.max_lag_seconds:.1f} |"
        )
    return lines


def percent_text(value: float) -> str:
    """A percent as the seed writes it: one decimal, two when the weights need them."""
    text = f"{value:.2f}"
    return (text[:-1] if text.endswith("0") else text) + "%"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _width(text: str) -> int:
    """Terminal columns: emoji take two (a sign followed by VS16 becomes one)."""
    width = 0
    for i, char in enumerate(text):
        if char == "\ufe0f" or unicodedata.combining(char):
            continue
        wide = unicodedata.east_asian_width(char) in "WF"
        emoji = i + 1 < len(text) and text[i + 1] == "\ufe0f"
        width += 2 if wide or emoji else 1
    return width


def fetch(url: str, wait_s: float) -> HealthReport:
    """The `/v1/health` answer, waiting up to `wait_s` while the service warms up."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/v1/health", timeout=10) as response:  # noqa: S310
                return HealthReport.model_validate(json.loads(response.read()))
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"no health report from {url}: {exc}") from exc
            time.sleep(1)


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    health_url: str = Field("http://127.0.0.1:8082", description="the health service's base URL")


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m health_monitor.report", __doc__, ReportSettings)
    parser.add_argument("--url", help="the health service's base URL (default: HEALTH_URL)")
    parser.add_argument("--wait", type=float, default=30, help="seconds to wait for a report")
    parser.add_argument(
        "--fail-below", type=float, default=None, help="exit 1 when the score is below this"
    )
    args = parser.parse_args(argv)
    report = fetch(args.url or cli.load(parser, ReportSettings).health_url, args.wait)
    sys.stdout.write(render(report))
    return 1 if args.fail_below is not None and report.score < args.fail_below else 0


if __name__ == "__main__":
    sys.exit(main())
