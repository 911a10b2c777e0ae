// Hardhat 2 config for the local dev chain (`npx hardhat node`).
// We never run `hardhat compile` (scripts/compile.js uses the pinned npm solc instead),
// so nothing here needs a compiler download; `solidity` is informational only.

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: "0.8.28",
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      // Interval mining keeps blocks coming without traffic, so consumers that wait
      // for N confirmations ("finalized" delivery) make progress on an idle chain.
      mining: { auto: true, interval: 1000 },
      loggingEnabled: false,
      // `accounts` omitted on purpose: the 20 well-known test accounts
      // (mnemonic "test test ... junk", 10000 ETH each).
    },
  },
  paths: {
    sources: "./src",
    // Keep anything Hardhat might write under build/ (gitignored).
    cache: "./build/hardhat-cache",
    artifacts: "./build/hardhat-artifacts",
  },
};
