"""The client: one interface over the embedded services or a dockyard server."""
