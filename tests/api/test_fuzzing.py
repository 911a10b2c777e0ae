"""Property-based fuzzing of every operation of the served OpenAPI document (schemathesis's
strategies driven by Hypothesis): valid and invalid parameters alike never get a 5xx, every
response matches its documented status, content type, headers and schema, invalid input is
never accepted, and every refusal has the error shape.

(Schemathesis's own pytest loader does not run under pytest 9, so the operations are listed
here and a test holds the list to the document.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from tests.support.api_process import OPERATIONS
from tests.support.world import ALICE, BOB, CAROL, DAVE

ERROR_KEYS = {"error", "message", "errors", "request_id"}
WITHOUT_PARAMETERS = {"GET /api/realtime/proof-of-reserves"}
"""Nothing to make invalid there (unknown parameters are tested in test_http_contract)."""
CASES = [
    (label, mode)
    for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label not in WITHOUT_PARAMETERS
]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.allow_header_conformance,
]
# Addresses as clients send them: the world's users in every accepted case form, and strangers.
# (Random mixed case, which the pattern alone allows, almost never has a valid EIP-55 checksum
# and would keep the fuzzer out of the database paths.)
_USERS = [account.address for account in (ALICE, BOB, CAROL, DAVE)]
schemathesis.openapi.format(
    "evm-address",
    st.one_of(
        st.sampled_from(_USERS),
        st.sampled_from([str(u).lower() for u in _USERS]),
        st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex()),
        st.binary(min_size=20, max_size=20).map(to_checksum_address),
    ),
)
# positive_data_acceptance is left out on purpose: a mixed-case address that fits the pattern
# but fails its EIP-55 checksum is valid for the schema and refused by design, and an address
# nobody has used is a 404 on the singular resources.


def test_the_list_is_every_operation_of_the_document(api_schema: schemathesis.BaseSchema) -> None:
    results = list(api_schema.get_all_operations())
    served = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(served) == len(results), "the document has operations schemathesis cannot read"
    assert {operation.label for operation in served} == set(OPERATIONS)
    parameterless = {
        operation.label for operation in served if not list(operation.iter_parameters())
    }
    assert parameterless == WITHOUT_PARAMETERS


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_every_operation_holds_its_contract(
    api_schema: schemathesis.BaseSchema, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def holds(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code < 500
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == ERROR_KEYS
            assert response.headers["x-request-id"] == [body["request_id"]]

    holds()
