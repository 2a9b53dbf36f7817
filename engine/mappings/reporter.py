"""Collect every problem of a mapping file, each with its line and key, to report at once.

A court team fixing a mapping wants all of its faults in one run, not one per run: the
compiler's parts report into one `Reporter`, and `compile_mapping` raises a single
`MappingError` listing them in line order.
"""

from __future__ import annotations

from engine.mappings.yamlsource import Located, LocatedList

__all__ = ["Reporter"]


class Reporter:
    """Problems found so far: (line, key path, message)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[tuple[int, str, str]] = []

    def error(self, node: Located | LocatedList | None, key: str, keypath: str,
              message: str) -> None:
        """Record a problem at `key` of `node` (the node's own line when the key is absent)."""
        if isinstance(node, Located):
            line = node.line_of(key.rsplit(".", 1)[-1])
        elif isinstance(node, LocatedList):
            line = node.line
        else:
            line = 0
        self.errors.append((line, keypath, message))

    def check_keys(self, node: Located, allowed: tuple[str, ...], keypath: str) -> None:
        """Record every key of `node` that is not one of `allowed`."""
        for key in node:
            if key not in allowed:
                self.error(node, key, f"{keypath}.{key}" if keypath else key,
                           f"unknown key; expected one of: {', '.join(allowed)}")
