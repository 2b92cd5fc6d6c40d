"""Follow-up tests use the shared real servers: HTTP, SMTP sink, Shopify fake."""

from tests.support.servers import http_server, shopify_fake_server, smtp_env, smtp_server  # noqa: F401  (fixtures)
