"""``python -m qlink`` runs the same command line as the ``qlink`` script."""

from __future__ import annotations

from qlink.cli import main

raise SystemExit(main())
