"""Helpers shared by the tests, imported explicitly (``from tests.helpers.api import api_error``)."""
