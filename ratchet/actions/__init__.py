"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import echo  # noqa: F401
