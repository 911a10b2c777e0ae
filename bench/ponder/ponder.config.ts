import { createConfig } from "ponder";
import { parseAbiItem } from "viem";

// Everything about the chain comes from bench/ponder_backfill.py, which makes a new one per run.
function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

export default createConfig({
  database: { kind: "postgres", connectionString: env("DATABASE_URL") },
  chains: {
    bench: {
      id: Number(env("PONDER_CHAIN_ID")),
      rpc: env("PONDER_RPC_URL"),
      // Ponder keeps RPC answers in the database; off, so no run is served from an earlier one.
      disableCache: true,
    },
  },
  contracts: {
    FeeVault: {
      chain: "bench",
      abi: [parseAbiItem("event Deposited(address indexed user, uint256 amount)")],
      address: env("PONDER_FEE_VAULT") as `0x${string}`,
      startBlock: Number(env("PONDER_START_BLOCK")),
      // A backfill of a fixed range: no realtime sync polling the node meanwhile.
      endBlock: Number(env("PONDER_END_BLOCK")),
    },
  },
});
