"""How many blocks one eth_getLogs asks for, adapted to how fast the node answers and how many
logs an answer holds, and remembered: the chain-listener sizes its ranges with it, and health
its reads of the chain, so neither asks a node for a response it cannot build on a chain whose
blocks are dense with logs."""

from __future__ import annotations


class RangeSizer:
    """The block count of the next eth_getLogs.

    Soft limits keep each range a modest Kafka transaction that overlaps with the next fetch:
    above twice the target time or log count the size is cut to fit, and it grows by half
    while a range half again as big is still expected within both targets. Each range pays
    for a check of its last block with logs (the chain-listener's completeness check), so on
    a chain dense with logs a range that stopped growing at half the target paid that check
    twice as often. Hard limits come from the provider: a refusal jumps to the size it
    suggests (else halves), a truncated answer to what came back complete, and the refused
    size becomes a ceiling that is only crept past after a run of successes, so a dense
    stretch of chain does not make every other range fail once.
    """

    GROWTH = 1.5
    """How much a light range grows at a time."""
    GROWTH_RUN = 8
    """Successes at the ceiling before it is raised again by a quarter."""

    def __init__(self, initial: int, maximum: int, target_s: float, target_logs: int) -> None:
        self.maximum = maximum
        self.size = max(1, min(initial, maximum))
        self.ceiling = maximum
        self.target_s = target_s
        self.target_logs = target_logs
        self._run = 0

    def succeeded(self, blocks: int, elapsed_s: float, logs: int) -> None:
        load = max(elapsed_s / self.target_s, logs / self.target_logs)
        if load > 2:
            self.size = max(1, int(blocks / load))
            return
        if load * self.GROWTH > 1 or blocks < self.size:
            # Half again as big may pass a target, or a short range at the head: no evidence
            # for a bigger size.
            return
        if self.size >= self.ceiling:
            self._run += 1
            if self._run < self.GROWTH_RUN:
                return
            self.ceiling = min(self.maximum, self.ceiling + max(1, self.ceiling // 4))
            self._run = 0
        self.size = min(self.ceiling, max(self.size + 1, int(self.size * self.GROWTH)))

    def refused(self, blocks: int, suggested: int | None) -> None:
        self._limit(suggested if suggested is not None and suggested < blocks else blocks // 2)

    def too_slow(self, blocks: int) -> None:
        self._limit(blocks // 2)

    def truncated(self, complete_blocks: int) -> None:
        """A response that held only the first `complete_blocks` blocks of a range."""
        self._limit(complete_blocks)

    def _limit(self, size: int) -> None:
        self.size = max(1, min(size, self.maximum))
        self.ceiling = self.size
        self._run = 0
