"""The codecs of the contract's topics: producers write zstd, and topics written before hold lz4
batches, which a replay must still read."""

from __future__ import annotations

from aiokafka import codec
from reservesync import kafka


def test_producers_write_zstd() -> None:
    assert kafka.producer_options()["compression_type"] == "zstd"


def test_both_codecs_of_the_topics_are_installed_and_read_back() -> None:
    batch = b'{"schema":"chain.event/v1","event_id":"31337:0xab:1"}' * 200
    assert codec.has_zstd()
    assert codec.has_lz4()
    assert codec.zstd_decode(codec.zstd_encode(batch)) == batch
    assert codec.lz4_decode(codec.lz4_encode(batch)) == batch
