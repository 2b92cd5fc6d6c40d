from tests.support.ingress import http, ingress  # noqa: F401  (fixtures)
