"""Print the dockyard server's OpenAPI document (the UI's types are generated from it)."""

import json
import sys
import tempfile

from dockyard.core.config import load_settings
from dockyard.server.app import create_app

with tempfile.TemporaryDirectory() as home:
    app = create_app(load_settings(home=home, environ={}))
    json.dump(app.openapi(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
