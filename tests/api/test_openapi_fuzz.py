"""Schemathesis against the OpenAPI document: for every operation, generated requests (valid and
invalid, with a bounded number of examples) never get a 500 and never get a response the document
does not describe: its status, content type, headers and body schema.

Each request is sent twice: with a partner manager's token and with a CRC token (a referrer's for
referrals and outcomes, a contract manager's for contracts, invoices and service returns), so both sides' responses
are checked. Half the generated record references are swapped for
real ones, so actions reach records in real states, not only 404s.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from portal.api.openapi import build_document
from tests.api.conftest import World

schema = schemathesis.openapi.from_dict(build_document())
# The tokens are ours to give (below): generated Authorization headers would only make false negatives.
schema.config.generation.update(with_security_parameters=False)

CRC_CALLER = {  # else the referrer
    "Contracts": "contract_manager",
    "Invoices": "contract_manager",
    "Service returns": "contract_manager",
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
EXAMPLES = 8

# Real references for the hook below, set by the fixture for the running test.
KNOWN: dict[str, list[Any]] = {}


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """Keep half the generated values (mostly 404s) and put a real record in the other half. Values of
    the wrong type are kept: they are the negative cases, which must be refused."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        choices = KNOWN.get(name)
        if not choices or type(value) is not type(choices[0]):
            continue
        digest = hashlib.sha256(repr(value).encode()).digest()
        if digest[0] % 2:
            mapped[name] = choices[digest[1] % len(choices)]
    return mapped


@pytest.fixture
def known_records(world: World):
    KNOWN.update(
        reference=[world.sent.reference, world.open.reference, world.other_sent.reference, world.contract.reference],
        outcome_id=[world.outcome.id, world.other_outcome.id],
        invoice_id=[world.draft.id, world.submitted.id, world.approved.id],
        return_id=[world.draft_return.id, world.submitted_return.id],
    )
    yield world
    KNOWN.clear()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_openapi_document_says(case, app, known_records: World):
    tag = case.operation.definition.raw.get("tags", [""])[0]
    for caller in ("nacro_manager", CRC_CALLER.get(tag, "referrer")):
        response = case.call(app=app, headers={"Authorization": f"Bearer {known_records[caller].secret}"})
        case.validate_response(response, checks=CHECKS)
