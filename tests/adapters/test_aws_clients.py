"""How AWS clients are built: one shared session, botocore's data read as plain dicts, and parameter
validation on in tests and the local stack, off in Lambda (as the settings choose)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError, UnknownServiceError
from botocore.loaders import JSONFileLoader, create_loader

from chalicelib import bootstrap
from chalicelib.adapters import aws as factory
from chalicelib.adapters.botocore_data import DataLoader, DictJSONFileLoader, data_loader
from chalicelib.config import SettingsError, load_settings
from tests.conftest import REGION


@pytest.fixture
def fresh_clients() -> Any:
    factory.reset_clients()
    yield
    factory.reset_clients()


def test_every_client_comes_from_one_session(aws: None, fresh_clients: None) -> None:
    # Given the clients an email needs, built through the composition root's lazy clients
    shop = bootstrap.bootstrap(load_settings({"SHOPDESK_STAGE": "test"}))
    clients = [factory.client(service, REGION) for service in ("dynamodb", "s3", "ses", "sns")]
    # Then they share the session's loader (its endpoint data and models are loaded once per process)
    loader = factory.session().get_component("data_loader")
    assert all(c._loader is loader for c in clients)
    assert isinstance(loader, DataLoader) and isinstance(loader.file_loader, DictJSONFileLoader)
    # And asking again gives the same client objects, not new ones
    assert factory.client("dynamodb", REGION) is clients[0]
    assert shop.store.get({"pk": "nothing", "sk": "here"}) is None  # the Shop's lazy client is that client
    assert factory.built_clients().count(("dynamodb", REGION, True)) == 1


def test_botocore_data_reads_the_same_as_botocores_own_loader() -> None:
    ours, theirs = DictJSONFileLoader(), JSONFileLoader()
    data = factory.session().get_component("data_loader").BUILTIN_DATA_PATH
    for name in ("endpoints", "partitions", "sdk-default-configuration", "dynamodb/2012-08-10/service-2",
                 "s3/2006-03-01/endpoint-rule-set-1"):
        path = f"{data}/{name}"
        assert ours.exists(path) and ours.load_file(path) == theirs.load_file(path)
    assert not ours.exists(f"{data}/no-such-file") and ours.load_file(f"{data}/no-such-file") is None


def test_the_loader_knows_the_services_botocores_knows() -> None:
    ours, theirs = data_loader(None), create_loader()
    for kind in ("service-2", "endpoint-rule-set-1", "waiters-2"):
        known, listed = ours.list_available_services(kind), theirs.list_available_services(kind)
        assert all(name in known for name in listed)  # answered from each service's own folders
        assert not any(name in known for name in ("no-such-service", "", "..", "s3/2006-03-01", 3))
        assert list(known) == listed and len(known) == len(listed) and known[0] == listed[0]
    assert ours.load_service_model("dynamodb", "service-2") == theirs.load_service_model("dynamodb", "service-2")
    with pytest.raises(UnknownServiceError):
        ours.load_service_model("no-such-service", "service-2")


def test_clients_are_built_once_under_concurrent_first_use(aws: None, fresh_clients: None) -> None:
    """Two invocations' threads (or a test's) asking for the first client at once get one client."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        built = list(pool.map(lambda _: factory.client("ses", REGION), range(16)))
    assert len({id(c) for c in built}) == 1 and factory.built_clients() == [("ses", REGION, True)]


def _answer_without_network(request: Any, **_: Any) -> AWSResponse:
    """An event hook in place of the HTTP round trip: every request gets an empty 200."""
    return AWSResponse(request.url, 200, {}, _Raw(b"{}"))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


@pytest.mark.parametrize("validation", [True, False])
def test_parameter_validation_follows_the_choice(fresh_clients: None, validation: bool) -> None:
    dynamodb = factory.client("dynamodb", REGION, parameter_validation=validation)
    sent: list[Any] = []
    dynamodb.meta.events.register("before-send.dynamodb.GetItem", lambda request, **kw: sent.append(request)
                                  or _answer_without_network(request))
    bad = {"TableName": "t", "Key": {"pk": {"S": 1}}}  # a number where DynamoDB wants a string
    if validation:
        # Then botocore refuses the request before sending it (our mistake caught in tests and locally)
        with pytest.raises(ParamValidationError):
            dynamodb.get_item(**bad)
        assert sent == []
    else:
        # Then it goes out as it is (in Lambda AWS itself answers a ValidationException, translated as any)
        dynamodb.get_item(**bad)
        assert len(sent) == 1 and json.loads(sent[0].body)["Key"] == {"pk": {"S": 1}}
        # with the fixed User-Agent (botocore's structured one costs ~7 % of its CPU to rebuild per request)
        assert sent[0].headers["User-Agent"].startswith(b"shopdesk Botocore/")


def test_validation_is_off_only_in_lambda_unless_set() -> None:
    assert load_settings({}).aws_parameter_validation is True  # tests, the local stack, scripts
    assert load_settings({"AWS_LAMBDA_FUNCTION_NAME": "shopdesk-prod-ingest_email"}).aws_parameter_validation is False
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "f"}
    assert load_settings({**lambda_env, "SHOPDESK_AWS_PARAMETER_VALIDATION": "true"}).aws_parameter_validation
    assert not load_settings({"SHOPDESK_AWS_PARAMETER_VALIDATION": "false"}).aws_parameter_validation
    with pytest.raises(SettingsError):
        load_settings({"SHOPDESK_AWS_PARAMETER_VALIDATION": "sometimes"})


def test_a_lambda_shop_builds_clients_without_validation(aws: None, fresh_clients: None) -> None:
    # Given the settings Lambda's environment gives
    settings = load_settings({"SHOPDESK_STAGE": "test", "AWS_REGION": REGION, "AWS_LAMBDA_FUNCTION_NAME": "f"})
    shop = bootstrap.bootstrap(settings)
    # When its adapters make calls
    assert shop.store.get({"pk": "nothing", "sk": "here"}) is None
    # Then every client it built skips validation, and none that validates was built
    assert factory.built_clients() == [("dynamodb", REGION, False)]
    # And a test's Shop (no AWS_LAMBDA_FUNCTION_NAME) validates
    bootstrap.bootstrap(load_settings({"SHOPDESK_STAGE": "test", "AWS_REGION": REGION})).store.get(
        {"pk": "nothing", "sk": "here"})
    assert ("dynamodb", REGION, True) in factory.built_clients()
