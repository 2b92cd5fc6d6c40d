"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import echo  # noqa: F401
from ratchet.actions import cache  # noqa: F401
from ratchet.actions import email  # noqa: F401
from ratchet.actions import event  # noqa: F401
from ratchet.actions import http  # noqa: F401
from ratchet.actions import shopify  # noqa: F401
from ratchet.actions import flow  # noqa: F401
