"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis): every /api/ operation,
with and without an agent token, must never answer with a server error. Fixed seed and a bounded number of
examples per operation, so the run is repeatable and fits CI's time."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import AUTOMATION_TOKEN

EXAMPLES = 30  # per operation and token: ~12 operations x 2 x 30 requests
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def operations(served):
    import app

    schema = schemathesis.openapi.from_asgi("/openapi.json", app.build_app())
    found = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in found} >= {"POST /api/chat", "GET /api/conversations",
                                                                   "POST /api/login", "POST /api/classify"}
    return found


@pytest.mark.parametrize("token", [None, AUTOMATION_TOKEN], ids=["anonymous", "agent"])
def test_no_input_gives_a_server_error(operations, token):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    for operation in operations:
        assert operation.path.startswith("/api/")

        @given(case=operation.as_strategy())
        @FUZZ
        def no_server_error(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, (f"{case.method} {case.formatted_path} {case.body!r}: "
                                                f"{response.status_code} {response.text[:300]}")

        no_server_error()

