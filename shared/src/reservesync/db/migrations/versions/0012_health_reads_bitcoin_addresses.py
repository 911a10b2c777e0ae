"""The health service judges the oracle against Bitcoin: it joins each user's verified
addresses (`bitcoin_addresses`) to the balances the bitcoin-listener recorded
(`bitcoin_address_balances`, readable by `rs_health` since 0007) by `address_lookup`.

`rs_health` gets the columns that join needs, never the ciphertext; the row-level policy
`health_all` (0002) already lets it see every row.

Revision ID: 0012
Revises: 0011
"""

from reservesync.db.migrations.script import run_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = "user_address, address_lookup, network, verified_at, monitoring"


def upgrade() -> None:
    run_script(f"GRANT SELECT ({COLUMNS}) ON bitcoin_addresses TO rs_health;")


def downgrade() -> None:
    run_script(f"REVOKE SELECT ({COLUMNS}) ON bitcoin_addresses FROM rs_health;")
