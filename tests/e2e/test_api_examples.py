"""The OpenAPI page shows a realistic example for every endpoint: each request body and each 2xx answer."""

import jsonschema_rs
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def openapi() -> dict:
    answer = Client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = doc["components"]["schemas"][name]
    return schema


def _documented_schemas(doc: dict):
    """(where, schema) of every operation's JSON request body and 2xx JSON answer."""
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                yield f"{method.upper()} {path} request", body["schema"]
            for status, response in operation["responses"].items():
                answer = response.get("content", {}).get("application/json")
                if status.startswith("2") and answer is not None:
                    yield f"{method.upper()} {path} {status}", answer["schema"]


def _examples(schema: dict) -> list:
    return list(schema.get("examples") or []) + ([schema["example"]] if "example" in schema else [])


def test_every_request_body_and_2xx_answer_carries_an_example(openapi):
    schemas = list(_documented_schemas(openapi))
    assert len(schemas) >= 25  # 17 operations, 9 of them with a body
    missing = [where for where, schema in schemas if not _examples(_resolve(schema, openapi))]
    assert missing == []


def test_every_example_is_valid_against_its_own_schema(openapi):
    invalid = []
    for where, schema in _documented_schemas(openapi):
        validator = jsonschema_rs.Draft202012Validator({**schema, "components": openapi["components"]})
        for example in _examples(_resolve(schema, openapi)):
            if not validator.is_valid(example):
                invalid.append((where, next(validator.iter_errors(example)).message))
    assert invalid == []
