"""The order-image link: where the signed order's PDF may be fetched from, and its hash.

The engine never fetches the image: it carries the link and its SHA-256 to the DOJ, whose
systems (and every officer's client) may follow it. So the link is held to what is safe to
follow from anywhere (docs/security.md):

- ``https:`` only: no ``javascript:``, ``data:``, ``file:``, ``smb:``, plain ``http:``;
- no user name or password in it (a credential would travel to every reader);
- a DNS name, not an IP literal or ``localhost`` (an internal address is not a court's
  public document store);
- when ``image_hosts`` is configured, the host must be one of them (``.example.gov``
  allows every name under it).

`verify_image` checks fetched bytes against the hash the court sent, for any tool that
fetches the image (the hash is what makes the link safe to trust).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import urllib.parse
from collections.abc import Sequence

from engine.errors import FieldError
from engine.model import Order, OrderImage

__all__ = ["image_problems", "uri_problem", "verify_image"]


def uri_problem(uri: str, allowed_hosts: Sequence[str] = ()) -> str | None:
    """Why ``uri`` is not an acceptable image link, or None (never repeats the link)."""
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return "must be an https:// link to the court's document store"
    if parts.scheme.lower() != "https":
        return "must be an https:// link (no other scheme is followed)"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    try:
        ipaddress.ip_address(host)
        return "must name a host, not an IP address"
    except ValueError:
        pass
    if not host or host == "localhost" or "." not in host:
        return "must name a public host (a dotted DNS name)"
    if allowed_hosts and not any(
            host == h.lower() or (h.startswith(".") and host.endswith(h.lower()))
            for h in allowed_hosts):
        return "host is not one of the configured image_hosts"
    return None


def image_problems(order: Order, allowed_hosts: Sequence[str] = ()) -> list[FieldError]:
    """The order's image link problems, as field errors."""
    if order.image is None:
        return []
    problem = uri_problem(order.image.uri, allowed_hosts)
    return [FieldError("image.uri", problem)] if problem else []


def verify_image(image: OrderImage, data: bytes) -> bool:
    """True when ``data`` is the image the court hashed (compared in constant time)."""
    return hmac.compare_digest(hashlib.sha256(data).hexdigest(), image.sha256)
