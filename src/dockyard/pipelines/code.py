"""The code part of a step's cache key: its source and the source of the functions and
classes it uses from the user's own code, followed transitively.

"The user's own code" is whatever is defined in the step's top-level package (or, for a
step in a script or notebook, the step's module), outside the standard library and
installed packages; those are covered by the step's declared environment instead.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import sysconfig
import types
from collections.abc import Iterator
from typing import Any

_INSTALLED = tuple(
    {
        p
        for p in (
            sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")
        )
        if p
    }
)


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is not None:  # no source (e.g. made by exec): the bytecode still identifies it
            return repr((code.co_code, code.co_consts, code.co_names))
        return repr(obj)


def _is_users(obj: Any, root: str) -> bool:
    module_name = getattr(obj, "__module__", None)
    if not isinstance(module_name, str):
        return False
    if module_name.split(".")[0] != root:
        return False
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None) or ""
    return not filename.startswith(_INSTALLED) or root == "__main__"


def _unwrap(obj: Any) -> Any:
    return getattr(obj, "__wrapped__", obj)


def fingerprint(fn: Any) -> str:
    """sha256 over the sources of ``fn`` and of the user's functions and classes it reaches."""
    fn = _unwrap(fn)
    root = (getattr(fn, "__module__", None) or "__main__").split(".")[0]
    seen: set[int] = set()
    parts: list[str] = []

    def visit(obj: Any) -> None:
        obj = _unwrap(obj)
        if id(obj) in seen:
            return
        seen.add(id(obj))
        parts.append(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}")
        parts.append(_source(obj))
        code = getattr(obj, "__code__", None)
        scope = getattr(obj, "__globals__", {})
        if code is None and inspect.isclass(obj):
            members = [m for m in vars(obj).values() if inspect.isfunction(m)]
            for member in members:
                visit_refs(member.__code__, member.__globals__)
            return
        if code is not None:
            visit_refs(code, scope)

    def visit_refs(code: types.CodeType, scope: dict[str, Any]) -> None:
        names = list(dict.fromkeys(_names(code)))
        for name in names:
            target = scope.get(name)
            if target is None:
                continue
            if inspect.ismodule(target):
                if target.__name__.split(".")[0] != root:
                    continue
                for attr in names:  # `helpers.clean(...)` names both `helpers` and `clean`
                    member = getattr(target, attr, None)
                    if (
                        member is not None
                        and (inspect.isfunction(member) or inspect.isclass(member))
                        and _is_users(member, root)
                    ):
                        visit(member)
                continue
            target = _unwrap(target)
            if (inspect.isfunction(target) or inspect.isclass(target)) and _is_users(target, root):
                visit(target)

    visit(fn)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
