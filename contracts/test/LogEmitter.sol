// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title LogEmitter (test only, never deployed by the stack)
/// @notice Emits any log the caller describes. Configured as if it were a system contract, it
/// lets tests put logs on chain that the real contracts never emit (unknown topics, malformed
/// data) and check that the listener dead-letters them with the reason.
contract LogEmitter {
    function emitLog(bytes32[] calldata topics, bytes calldata data) external {
        require(topics.length <= 4, "too-many-topics");
        bytes memory body = data;
        uint256 size = body.length;
        uint256 count = topics.length;
        bytes32 t0 = count > 0 ? topics[0] : bytes32(0);
        bytes32 t1 = count > 1 ? topics[1] : bytes32(0);
        bytes32 t2 = count > 2 ? topics[2] : bytes32(0);
        bytes32 t3 = count > 3 ? topics[3] : bytes32(0);
        assembly {
            let start := add(body, 0x20)
            switch count
            case 0 { log0(start, size) }
            case 1 { log1(start, size, t0) }
            case 2 { log2(start, size, t0, t1) }
            case 3 { log3(start, size, t0, t1, t2) }
            default { log4(start, size, t0, t1, t2, t3) }
        }
    }
}
