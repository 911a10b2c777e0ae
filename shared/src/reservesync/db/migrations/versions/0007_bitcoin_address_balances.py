"""What Bitcoin itself says each verified address holds (`rbtc.bitcoin.balances.v1`).

One row per watched address: its confirmed balance at a Bitcoin height, the newest record of
the bitcoin-listener's compacted topic (a tombstone deletes the row). The address is encrypted
at rest like `bitcoin_addresses.address_ciphertext`; `address_lookup` is the same keyed hash
(purpose "bitcoin-address"), so `JOIN bitcoin_addresses USING (address_lookup)` gives each
user's addresses with their Bitcoin balance.

`rs_writer` writes it. `rs_health` and `rs_api` read every column but the ciphertext;
`rs_api` sees, under row-level security, the balances of the addresses of the user its
request names (or every one for `'*'`), as for `bitcoin_addresses`.

Revision ID: 0007
Revises: 0004
"""

from reservesync.db.migrations.script import run_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

READABLE = (
    "id, address_lookup, key_id, network, confirmed_sats, height, block_hash, as_of, "
    "created_at, updated_at"
)

UPGRADE = f"""
CREATE TABLE bitcoin_address_balances (
    id bigserial PRIMARY KEY,
    address_lookup bytea NOT NULL UNIQUE CHECK (length(address_lookup) = 32),
    address_ciphertext bytea NOT NULL,
    key_id text NOT NULL,
    network text NOT NULL CHECK (network IN ('mainnet', 'testnet', 'signet', 'regtest')),
    confirmed_sats bigint NOT NULL
        CHECK (confirmed_sats >= 0 AND confirmed_sats <= 2100000000000000),
    height bigint NOT NULL CHECK (height >= 0),
    block_hash text NOT NULL CHECK (block_hash ~ '^[0-9a-f]{{64}}$'),
    as_of timestamptz NOT NULL,
    src_topic text NOT NULL,
    src_partition integer NOT NULL,
    src_offset bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON bitcoin_address_balances TO rs_writer;
GRANT USAGE ON SEQUENCE bitcoin_address_balances_id_seq TO rs_writer;
GRANT SELECT ({READABLE}) ON bitcoin_address_balances TO rs_health, rs_api;
ALTER TABLE bitcoin_address_balances ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all ON bitcoin_address_balances TO rs_writer USING (true) WITH CHECK (true);
CREATE POLICY health_all ON bitcoin_address_balances TO rs_health USING (true);
CREATE POLICY api_per_user ON bitcoin_address_balances FOR SELECT TO rs_api USING (
    current_setting('reservesync.user', true) = '*' OR EXISTS (
        SELECT 1 FROM bitcoin_addresses b
        WHERE b.address_lookup = bitcoin_address_balances.address_lookup
          AND b.user_address = current_setting('reservesync.user', true)));
"""


def upgrade() -> None:
    run_script(UPGRADE)


def downgrade() -> None:
    run_script("DROP TABLE bitcoin_address_balances;")
