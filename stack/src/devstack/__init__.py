"""The local stack: real Kafka, PostgreSQL, an EVM node and btcd on loopback, no Docker engine
needed, and the runner of the services' processes. It imports only the shared library: the
scenarios that drive the services live above them, in `scenarios`."""
