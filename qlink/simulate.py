"""`qlink simulate` (being built)."""

from __future__ import annotations

import argparse

from qlink.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Not built yet."""
    raise NotImplementedError
