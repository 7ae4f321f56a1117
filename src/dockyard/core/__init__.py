"""The innermost layer: settings, errors, ids, the acting principal and operation declarations."""
