import { onchainTable } from "ponder";

export const deposit = onchainTable("deposit", (t) => ({
  id: t.text().primaryKey(),
  user: t.hex().notNull(),
  amount: t.bigint().notNull(),
  blockNumber: t.bigint().notNull(),
}));
