"""Fixtures of the end-to-end tests."""
from tests.app.api_support import api  # noqa: F401 - the fixture, shared by every API test
