"""Every shared fixture lives in tests/support/; listing the modules here makes them available to all test
packages, so no test module imports fixtures or helpers from a conftest."""

pytest_plugins = [
    "tests.support.actions",  # also registers the test-only action types
    "tests.support.engine",
    "tests.support.ingress",
    "tests.support.servers",
    "tests.support.stores",
]
