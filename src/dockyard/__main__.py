"""``python -m dockyard``: the same as the ``dockyard`` command."""

from dockyard.cli.main import main

main()
