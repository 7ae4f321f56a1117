"""The HTTP server: the REST API (OpenAPI) over the services."""
