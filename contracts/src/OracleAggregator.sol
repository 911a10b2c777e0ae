// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRBTCSynth, IFeeVault, IFeePolicy, IVaultWrBTC} from "./Interfaces.sol";

/// @title OracleAggregator
/// @notice The committee reports each user's attested BTC reserve (in sats); the aggregator
/// mints or burns rBTC to match and charges the sync fee from the user's FeeVault deposit.
contract OracleAggregator {
    IRBTCSynth public immutable synth;
    IFeeVault public immutable feeVault;
    IFeePolicy public immutable feePolicy;
    IVaultWrBTC public immutable wrapVault; // may be zero: then burns never slash wrBTC

    address public committee;
    uint256 public maxFeePerSyncWei;
    mapping(address => uint64) public lastSyncedSats;

    event Synced(
        address indexed user,
        uint64 newBalanceSats,
        int64 deltaSats,
        uint256 feeWei,
        uint32 height,
        uint64 timestamp
    );
    event NeedsTopUp(address indexed user);
    event EmergencyBurn(address indexed user, uint256 burnedAmount, string reason);

    modifier onlyCommittee() {
        require(msg.sender == committee, "only-committee");
        _;
    }

    constructor(
        address synth_,
        address feeVault_,
        address feePolicy_,
        address wrapVault_,
        address committee_,
        uint256 maxFeePerSyncWei_
    ) {
        require(
            synth_ != address(0) && feeVault_ != address(0) && feePolicy_ != address(0)
                && committee_ != address(0),
            "zero-address"
        );
        synth = IRBTCSynth(synth_);
        feeVault = IFeeVault(feeVault_);
        feePolicy = IFeePolicy(feePolicy_);
        wrapVault = IVaultWrBTC(wrapVault_);
        committee = committee_;
        maxFeePerSyncWei = maxFeePerSyncWei_;
    }

    // The committee rotates itself; there is no separate admin to capture.
    function setCommittee(address committee_) external onlyCommittee {
        require(committee_ != address(0), "zero-address");
        committee = committee_;
    }

    function setMaxFeePerSyncWei(uint256 maxFee) external onlyCommittee {
        maxFeePerSyncWei = maxFee;
    }

    /// @param proof Either empty, or abi.encode(uint32 btcHeight, uint64 attestedAt) (64 bytes);
    /// anything else is ignored and the event carries (0, block.timestamp).
    function sync(address user, uint64 newBalanceSats, bytes calldata proof) external onlyCommittee {
        // Keeps the int64 delta exact; real BTC amounts are far below this bound.
        require(newBalanceSats <= uint64(type(int64).max), "balance-range");
        uint64 prev = lastSyncedSats[user];
        if (newBalanceSats == prev) return;

        int64 delta = int64(newBalanceSats) - int64(prev);
        uint256 fee = feePolicy.quoteFees(user, delta);
        require(fee <= maxFeePerSyncWei, "fee-cap");

        if (feeVault.balanceOf(user) < fee) {
            // A shrinking reserve must never be blocked by an empty fee deposit, so we
            // fail safe: wipe the whole balance rather than leave unbacked rBTC around.
            require(delta < 0, "needs-topup");
            _emergencyBurn(user, prev, "Insufficient fees");
            return;
        }

        lastSyncedSats[user] = newBalanceSats;
        if (delta > 0) {
            synth.mint(user, uint64(delta));
        } else {
            _burnBacking(user, prev - newBalanceSats);
        }
        if (fee > 0) feeVault.spendFrom(user, fee, committee);

        (uint32 height, uint64 timestamp) = proof.length == 64
            ? abi.decode(proof, (uint32, uint64))
            : (uint32(0), uint64(block.timestamp));
        emit Synced(user, newBalanceSats, delta, fee, height, timestamp);

        if (feeVault.balanceOf(user) < feePolicy.quoteFees(user, 0)) emit NeedsTopUp(user);
    }

    function executeEmergencyBurn(address user) external onlyCommittee {
        uint64 prev = lastSyncedSats[user];
        require(prev > 0, "nothing-to-burn");
        _emergencyBurn(user, prev, "Committee emergency burn");
    }

    function _emergencyBurn(address user, uint64 prev, string memory reason) private {
        lastSyncedSats[user] = 0;
        _burnBacking(user, prev);
        emit EmergencyBurn(user, prev, reason);
        emit Synced(user, 0, -int64(prev), 0, 0, uint64(block.timestamp));
    }

    /// @dev Burns from the unwrapped rBTC first, then slashes wrapped rBTC for the rest.
    /// Best effort: if the user moved wrBTC away, what they no longer hold cannot be
    /// reclaimed, and blocking the sync over it would freeze their reserve accounting.
    function _burnBacking(address user, uint256 amount) private {
        uint256 held = synth.balanceOf(user);
        uint256 fromSynth = amount < held ? amount : held;
        if (fromSynth > 0) synth.burn(user, fromSynth);
        uint256 rest = amount - fromSynth;
        if (rest > 0 && address(wrapVault) != address(0)) wrapVault.slash(user, rest);
    }
}
