"""``python -m cli`` runs the ``traceability`` command."""

from cli.main import main

main()
