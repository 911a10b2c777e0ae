"""The yield pool's members (`yield_scales_participants`), derived from the operations log: each
user's latest join, leave or emergency burn decides whether they are active, recomputed for the
users a batch or a reorg touched."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

RECOMPUTE_PARTICIPANTS = """
WITH membership AS (
    SELECT DISTINCT ON (user_address) user_address, operation, block_number, log_index,
           block_timestamp
    FROM yield_operations_log
    WHERE user_address = ANY($1::text[])
      AND operation IN ('JOINED', 'LEFT', 'EMERGENCY_BURN_TRIGGERED')
    ORDER BY user_address, block_number DESC, log_index DESC
), joined AS (
    SELECT DISTINCT ON (user_address) user_address, participant_type, amount, block_timestamp
    FROM yield_operations_log
    WHERE user_address = ANY($1::text[]) AND operation = 'JOINED'
    ORDER BY user_address, block_number DESC, log_index DESC
)
INSERT INTO yield_scales_participants AS p (user_address, participant_type, amount, active,
    joined_at, left_at, last_block, last_log_index)
SELECT m.user_address, j.participant_type, j.amount, m.operation = 'JOINED', j.block_timestamp,
       CASE WHEN m.operation = 'JOINED' THEN NULL ELSE m.block_timestamp END,
       m.block_number, m.log_index
FROM membership m JOIN joined j USING (user_address)
ON CONFLICT (user_address) DO UPDATE SET participant_type = excluded.participant_type,
    amount = excluded.amount, active = excluded.active, joined_at = excluded.joined_at,
    left_at = excluded.left_at, last_block = excluded.last_block,
    last_log_index = excluded.last_log_index, updated_at = now()
"""
FORGET_ABSENT_PARTICIPANTS = """
DELETE FROM yield_scales_participants p
WHERE p.user_address = ANY($1::text[]) AND NOT EXISTS (
    SELECT 1 FROM yield_operations_log l
    WHERE l.user_address = p.user_address AND l.operation = 'JOINED')
"""


async def recompute(connection: asyncpg.Connection, users: Collection[str]) -> None:
    await connection.execute(RECOMPUTE_PARTICIPANTS, sorted(users))
    await connection.execute(FORGET_ABSENT_PARTICIPANTS, sorted(users))
