"""Schemathesis against /api/v1 in process: no 5xx and every answer matches the OpenAPI document.

The document is fetched from the app itself (``/api/v1/openapi.json``), so the run checks the
served document against the served behaviour, with a real key of a committed clinic.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.limits import PartnerLimiter
from db.engine import Database
from qlink.asgi import create_app
from tests.web.conftest import settings_for
from tests.web.partner_support import PartnerClinic, partner_clinic

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def partner(db: Database) -> PartnerClinic:
    return partner_clinic(db)


@pytest.fixture
def api_schema(db: Database, tmp_path: Path) -> schemathesis.BaseSchema:
    app = create_app(settings_for(db, tmp_path), database=db)
    app.state.partner_limiter = PartnerLimiter(per_key="100000/minute", per_ip="100000/minute")
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_match_the_document_and_never_5xx(api_schema, partner, mode):
    """Every operation, valid and invalid inputs, with the partner's real key."""
    # Not positive_data_acceptance: a schema-valid booking of a made-up doctor or slot is
    # rightly refused (404/409/422) by the clinic's rules, which no schema can express.
    checks = [*CHECKS, *([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 5
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=partner.headers, checks=checks)

        run()
