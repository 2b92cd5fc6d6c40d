"""Built-in action handlers; importing this package registers them."""

from ratchet.actions import (
    airtable,
    cache,
    echo,
    email,
    event,
    files,
    flow,
    ftp,
    google,
    google_drive,
    google_sheets,
    http,
    shopify,
    slack,
)

__all__ = [
    "airtable",
    "cache",
    "echo",
    "email",
    "event",
    "files",
    "flow",
    "ftp",
    "google",
    "google_drive",
    "google_sheets",
    "http",
    "shopify",
    "slack",
]
