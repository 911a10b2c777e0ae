// Hardhat config for a SECOND, private node that tests and benchmarks start on their own port
// (`hardhat --config test/hardhat.config.js node --port P`), so snapshots, reverts and bulk
// loads never disturb the shared dev chain. It differs from ../hardhat.config.js only in:
//  - its chain id (RESERVESYNC_TEST_CHAIN_ID, default 31338): same deployer and nonces give the
//    same addresses and transaction contents as on the dev chain, and only the chain id keeps
//    event ids (chain_id:tx_hash:log_index) of the two chains apart on the shared topics;
//  - no interval mining: blocks come only from transactions or evm_mine, so a test decides
//    exactly which blocks a reorg replaces;
//  - an optional larger block gas limit (RESERVESYNC_TEST_BLOCK_GAS_LIMIT) for bulk loads.
const path = require("path");
const base = require("../hardhat.config.js");

const hardhat = base.networks.hardhat;
module.exports = {
  ...base,
  networks: {
    hardhat: {
      ...hardhat,
      chainId: Number(process.env.RESERVESYNC_TEST_CHAIN_ID || 31338),
      mining: { auto: true, interval: 0 },
      blockGasLimit: Number(process.env.RESERVESYNC_TEST_BLOCK_GAS_LIMIT || 30_000_000),
    },
  },
  paths: { ...base.paths, root: path.resolve(__dirname, "..") },
};
