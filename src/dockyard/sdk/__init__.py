"""The Python SDK on top of the client: ``dy.start_run`` and the module-level logging API."""
