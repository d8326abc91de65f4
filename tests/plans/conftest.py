from tests.api.conftest import anonymous_api, api_as  # noqa: F401 - the API fixtures, for these tests too
