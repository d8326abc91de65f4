"""The dashboard tests use the returns' worked example."""

from tests.returns.conftest import quarter  # noqa: F401
