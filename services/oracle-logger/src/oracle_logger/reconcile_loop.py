"""Reconciliation as a task of the oracle-logger (ORACLE_RECONCILE_INTERVAL_S): what the
oracle's journal and state hold and the database lacks is published every interval, so an
operation or emergency burn lost on its way never stays lost until someone runs the command."""

from __future__ import annotations

import logging

from oracle_logger.config import Settings
from oracle_logger.reconcile import ReconcileSettings, every

log = logging.getLogger("oracle_logger.reconcile")


async def reconcile_in_service(settings: Settings) -> None:
    # The rest (Kafka's address and credentials, the log level) comes from the same
    # environment the service was started with.
    if settings.reconcile_database_url is None:
        raise RuntimeError("RECONCILE_DATABASE_URL is not configured")
    reconcile_settings = ReconcileSettings(
        database_url=settings.reconcile_database_url,
        oracle_users_url=settings.oracle_users_url,
        oracle_operations_url=settings.oracle_operations_url,
        oracle_state_key=settings.oracle_state_key,
    )
    log.info(
        "reconciling with the oracle's journal",
        extra={"every_s": settings.oracle_reconcile_interval_s},
    )
    await every(reconcile_settings, settings.oracle_reconcile_interval_s, log.info)
