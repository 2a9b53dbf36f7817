"""`python -m engine` runs the CLI."""

from engine.cli import main

# Guarded: the engine's prepare workers (multiprocessing "spawn") import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
