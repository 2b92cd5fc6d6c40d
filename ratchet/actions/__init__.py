"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import cache, echo, email, event, files, flow, http, shopify

__all__ = ["cache", "echo", "email", "event", "files", "flow", "http", "shopify"]
