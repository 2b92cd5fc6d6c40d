"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import cache, echo, email, event, files, flow, ftp, http, shopify

__all__ = ["cache", "echo", "email", "event", "files", "flow", "ftp", "http", "shopify"]
