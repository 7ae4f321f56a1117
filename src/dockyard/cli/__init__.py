"""The ``dockyard`` command. Modules here import heavy parts only inside commands, so
``dockyard --help`` stays fast."""
