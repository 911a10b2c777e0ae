"""The local stack: real Kafka, PostgreSQL and an EVM node on loopback, no Docker engine needed."""
