"""Every shared fixture lives in tests/support/.

Listing the modules here makes them available to all test packages, so no test module
imports fixtures or helpers from a conftest.
"""

import os

# One key for the test process and every CLI, worker and `ratchet dev` process it starts, so they
# read each other's stored secrets (ratchet/store/secrets.py); a test that needs none removes it.
os.environ.setdefault("RATCHET_SECRET_KEY", "l0n5Dd0tUXa8oMYe9Wl6CvbC3pYt2aXt3YcBmqrQ0bE=")

pytest_plugins = [
    "tests.support.actions",  # also registers the test-only action types
    "tests.support.console",
    "tests.support.engine",
    "tests.support.ingress",
    "tests.support.servers",
    "tests.support.stores",
    "tests.support.transfer_servers",
]
