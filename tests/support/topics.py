"""Reading a whole topic back, to check what producers really published."""

from devstack.topic_reading import read_all, records_from

__all__ = ["read_all", "records_from"]
