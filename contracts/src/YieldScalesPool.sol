// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRBTCSynth} from "./Interfaces.sol";

/// @title YieldScalesPool
/// @notice Bookkeeping-only "scales" between rBTC holders and USDT providers: no tokens move
/// (rBTC is soulbound), the pool records commitments and emits the yield it would pay.
///
/// Yield model (deliberately simple and deterministic):
///   rate (bps)  = min(10000, usdtScale * 10000 / max(rbtcScale, 1)), fixed by calculateYield()
///   claim       = effectiveAmount * rate / 10000, at most once per calculateYield() epoch,
///                 where effectiveAmount for an rBTC holder is capped by their current rBTC.
contract YieldScalesPool {
    uint8 public constant RBTC_HOLDER = 0;
    uint8 public constant USDT_PROVIDER = 1;
    uint256 private constant BPS = 10_000;

    struct Participant {
        bool active;
        uint8 participantType;
        uint256 amount;
        uint256 claimedEpoch;
    }

    IRBTCSynth public immutable synth;
    address public immutable owner;

    uint256 public usdtScale;
    uint256 public rbtcScale;
    uint256 public currentYieldRate; // bps
    uint256 public epoch; // bumped by every calculateYield()
    uint256 public totalUSDTVirtual;
    uint256 public totalRBTCCommitted;
    mapping(address => Participant) public participants;

    event ParticipantJoined(address indexed user, uint8 participantType, uint256 amount);
    event ParticipantLeft(address indexed user, uint8 participantType, uint256 amount);
    event YieldCalculated(uint256 totalUSDTVirtual, uint256 totalRBTCSupply, uint256 currentYieldRate);
    event YieldClaimed(address indexed user, uint256 amount);
    event ScalesBalanceUpdated(uint256 usdtScale, uint256 rbtcScale, uint256 timestamp);
    event EmergencyBurnTriggered(address indexed user, uint256 burnedAmount, string reason);
    event BalanceDisputed(address indexed user, uint256 reportedBalance, uint256 oracleBalance);

    modifier onlyOwner() {
        require(msg.sender == owner, "only-owner");
        _;
    }

    constructor(address synth_, address owner_) {
        require(synth_ != address(0) && owner_ != address(0), "zero-address");
        synth = IRBTCSynth(synth_);
        owner = owner_;
    }

    function join(uint8 participantType, uint256 amount) external {
        require(participantType <= USDT_PROVIDER, "bad-type");
        require(amount > 0, "zero-amount");
        Participant storage p = participants[msg.sender];
        require(!p.active, "already-joined");
        // rBTC cannot be escrowed (soulbound), so holders prove the balance instead.
        if (participantType == RBTC_HOLDER) {
            require(synth.balanceOf(msg.sender) >= amount, "insufficient-rbtc");
            totalRBTCCommitted += amount;
        } else {
            totalUSDTVirtual += amount;
        }
        // Joining after a calculation does not entitle you to that epoch's yield.
        participants[msg.sender] = Participant(true, participantType, amount, epoch);
        emit ParticipantJoined(msg.sender, participantType, amount);
    }

    function leave() external {
        Participant memory p = participants[msg.sender];
        require(p.active, "not-participant");
        _remove(msg.sender, p);
        emit ParticipantLeft(msg.sender, p.participantType, p.amount);
    }

    function updateScales(uint256 usdtScale_, uint256 rbtcScale_) external onlyOwner {
        usdtScale = usdtScale_;
        rbtcScale = rbtcScale_;
        emit ScalesBalanceUpdated(usdtScale_, rbtcScale_, block.timestamp);
    }

    function calculateYield() external returns (uint256 rate) {
        uint256 denom = rbtcScale == 0 ? 1 : rbtcScale;
        rate = (usdtScale * BPS) / denom;
        if (rate > BPS) rate = BPS;
        currentYieldRate = rate;
        epoch += 1;
        emit YieldCalculated(totalUSDTVirtual, synth.totalSupply(), rate);
    }

    function claimYield() external returns (uint256 accrued) {
        Participant storage p = participants[msg.sender];
        require(p.active, "not-participant");
        require(p.claimedEpoch < epoch, "nothing-to-claim");
        p.claimedEpoch = epoch;
        uint256 amount = p.amount;
        if (p.participantType == RBTC_HOLDER) {
            uint256 held = synth.balanceOf(msg.sender);
            if (held < amount) amount = held; // burned rBTC stops earning
        }
        accrued = (amount * currentYieldRate) / BPS;
        emit YieldClaimed(msg.sender, accrued);
    }

    /// @notice Records an emergency burn decided elsewhere (the aggregator does the burning)
    /// and drops the user from the pool.
    function triggerEmergencyBurn(address user, uint256 burnedAmount, string calldata reason) external onlyOwner {
        Participant memory p = participants[user];
        if (p.active) _remove(user, p);
        emit EmergencyBurnTriggered(user, burnedAmount, reason);
    }

    function disputeBalance(uint256 reportedBalance, uint256 oracleBalance) external {
        require(participants[msg.sender].active, "not-participant");
        emit BalanceDisputed(msg.sender, reportedBalance, oracleBalance);
    }

    function _remove(address user, Participant memory p) private {
        if (p.participantType == RBTC_HOLDER) totalRBTCCommitted -= p.amount;
        else totalUSDTVirtual -= p.amount;
        delete participants[user];
    }
}
