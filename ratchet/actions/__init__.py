"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import (
    cache,  # noqa: F401
    echo,  # noqa: F401
    email,  # noqa: F401
    event,  # noqa: F401
    flow,  # noqa: F401
    http,  # noqa: F401
    shopify,  # noqa: F401
)
