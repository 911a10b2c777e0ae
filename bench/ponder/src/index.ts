import { ponder } from "ponder:registry";
import { deposit } from "ponder:schema";

ponder.on("FeeVault:Deposited", async ({ event, context }) => {
  await context.db.insert(deposit).values({
    id: event.id,
    user: event.args.user,
    amount: event.args.amount,
    blockNumber: event.block.number,
  });
});
