"""Bitcoin addresses <-> output scripts: the five standard kinds on every network, and clear
refusals for everything else."""

from __future__ import annotations

import pytest
from embit import ec, script
from embit.networks import NETWORKS
from reservesync.bitcoin_address import (
    AddressKind,
    BadBitcoinAddress,
    address_of,
    decode,
    script_for,
)
from reservesync.messages import Network

KEY = ec.PrivateKey(bytes(range(1, 33))).get_public_key()
SCRIPTS = {
    AddressKind.P2PKH: script.p2pkh(KEY),
    AddressKind.P2SH: script.p2sh(script.p2wpkh(KEY)),
    AddressKind.P2WPKH: script.p2wpkh(KEY),
    AddressKind.P2WSH: script.p2wsh(script.p2pkh(KEY)),
    AddressKind.P2TR: script.p2tr(KEY),
}
NETS = {Network.MAINNET: "main", Network.TESTNET: "test", Network.REGTEST: "regtest"}


@pytest.mark.parametrize("kind", list(AddressKind))
@pytest.mark.parametrize("network", list(NETS))
def test_each_kind_round_trips_on_each_network(kind: AddressKind, network: Network) -> None:
    expected = SCRIPTS[kind]
    address = str(expected.address(NETWORKS[NETS[network]]))
    decoded = decode(address)
    assert decoded.kind is kind
    assert network in decoded.networks
    assert decoded.script == expected.data
    assert script_for(address, network) == expected.data
    assert address_of(expected.data, network) == address


def test_bech32_is_case_insensitive_and_normalised_to_lowercase() -> None:
    address = str(SCRIPTS[AddressKind.P2WPKH].address(NETWORKS["main"]))
    assert decode(address.upper()).address == address
    assert script_for(address.upper(), Network.MAINNET) == SCRIPTS[AddressKind.P2WPKH].data


@pytest.mark.parametrize(
    ("address", "says"),
    [
        # BIP-350: a witness version 2 program is valid bech32m but no kind we watch
        ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "witness version 2"),
        # BIP-350: version 0 written with the bech32m checksum
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "not a valid bech32"),
        # BIP-350: version 1 written with the bech32 checksum
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "not a valid bech32"),
        ("1BoatSLRHtKNngkdXEeobR76b53LETtpyX", "base58check"),
        ("not-an-address", "base58check"),
        ("", "not a Bitcoin address"),
    ],
)
def test_anything_else_is_refused_with_the_reason(address: str, says: str) -> None:
    with pytest.raises(BadBitcoinAddress, match=says):
        decode(address)


def test_an_address_of_another_network_is_refused() -> None:
    mainnet = str(SCRIPTS[AddressKind.P2TR].address(NETWORKS["main"]))
    with pytest.raises(BadBitcoinAddress, match="not of regtest"):
        script_for(mainnet, Network.REGTEST)
    testnet_bech32 = str(SCRIPTS[AddressKind.P2WPKH].address(NETWORKS["test"]))
    with pytest.raises(BadBitcoinAddress, match="not of regtest"):
        script_for(testnet_bech32, Network.REGTEST)


def test_other_scripts_have_no_address() -> None:
    assert address_of(bytes.fromhex("6a0474657374"), Network.MAINNET) is None  # OP_RETURN
