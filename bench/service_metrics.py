"""A running service's own Prometheus metrics, as the benchmarks read them from its probe port."""

from __future__ import annotations

from devstack import procs, services
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(service: str, prefix: str) -> list[Sample]:
    """Every sample the service exports now; refused with the reason when it does not answer."""
    status, text = services.probe(service, "/metrics", prefix=prefix)
    if status != 200:
        raise procs.StackError(f"{service}'s metrics answered {status}: {text[:200]}")
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]
