"""Per-project secrets: set and deleted by maintainers, listed (names only) by viewers, and
decrypted only for pipeline steps and served models in a process that holds the key.

No operation returns a value: :meth:`SecretService.environment` is a plain method, called
by the pipeline orchestrator and the model server where they run on the services directly
(a server's scheduler, an embedded session, ``dockyard serve`` on the metadata store), never
over HTTP. The audit log records an operation's path (project and name), never its body.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.access.cipher import KeySource
from dockyard.access.schemas import Secret, SecretPut
from dockyard.core.errors import NotFound
from dockyard.core.operations import operation
from dockyard.core.principal import Principal, Role
from dockyard.core.secrets import check_names, check_value
from dockyard.projects.service import find_project
from dockyard.store.db import Database
from dockyard.store.tables import ProjectRow, ProjectSecretRow, utcnow


def _secret(project: str, row: ProjectSecretRow) -> Secret:
    return Secret(
        project=project,
        name=row.name,
        key_id=row.key_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _name(name: str) -> str:
    return check_names([name], "the secret's name")[0]


class SecretService:
    """A project's secrets (see the module's doc).

    ``may_create_key`` says, at each use, whether this process may create the embedded key
    file of :class:`KeySource` (an embedded session may, a server never)."""

    service_name = "secrets"

    def __init__(
        self, db: Database, keys: KeySource, may_create_key: Callable[[], bool] = lambda: False
    ) -> None:
        self.db = db
        self.keys = keys
        self._may_create_key = may_create_key

    @operation("PUT", "/projects/{project}/secrets/{name}", role=Role.MAINTAINER)
    def set(self, principal: Principal, project: str, name: str, body: SecretPut) -> Secret:
        """Set a secret (a new one, or a new value): stored encrypted, never shown again."""
        name = _name(name)
        check_value(body.value, name)
        key = self.keys.require(
            create=self._may_create_key(), why=f"setting secret {name} needs the secrets key"
        )

        def put(session: Session) -> Secret:
            found = find_project(session, project)
            nonce, sealed = key.seal(body.value, found.id, name)
            now = utcnow()
            row = session.get(ProjectSecretRow, (found.id, name))
            if row is None:
                row = ProjectSecretRow(
                    project_id=found.id, name=name, created_by=principal.name, created_at=now
                )
                session.add(row)
            row.nonce, row.ciphertext, row.key_id = nonce, sealed, key.key_id
            row.updated_by, row.updated_at = principal.name, now
            session.flush()
            return _secret(found.name, row)

        try:
            return self.db.write(put)
        except IntegrityError:  # set at the same moment by another call: this one wins
            return self.db.write(put)

    @operation("GET", "/projects/{project}/secrets")
    def list(self, principal: Principal, project: str) -> builtins.list[Secret]:
        """A project's secrets by name: who set each and when (never a value)."""

        def fetch(session: Session) -> builtins.list[Secret]:
            found = find_project(session, project)
            rows = session.scalars(
                select(ProjectSecretRow)
                .where(ProjectSecretRow.project_id == found.id)
                .order_by(ProjectSecretRow.name)
            )
            return [_secret(found.name, r) for r in rows]

        return self.db.query(fetch)

    @operation("DELETE", "/projects/{project}/secrets/{name}", status=204, role=Role.MAINTAINER)
    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a secret (steps and served models that name it then fail to start)."""
        name = _name(name)

        def remove(session: Session) -> None:
            found = find_project(session, project)
            gone = session.execute(
                delete(ProjectSecretRow).where(
                    ProjectSecretRow.project_id == found.id, ProjectSecretRow.name == name
                )
            )
            if not getattr(gone, "rowcount", 1):
                raise NotFound(
                    f"project {found.name!r} has no secret {name} "
                    f"(`dockyard secrets list -p {found.name}`)"
                )

        self.db.write(remove)

    def environment(
        self, principal: Principal, project: str, names: Sequence[str], *, needed_by: str = ""
    ) -> dict[str, str]:
        """The values of ``names`` in ``project``, decrypted, for the environment of a
        pipeline step or a served model (``needed_by`` names it in errors). Not an
        operation: never served over HTTP. NotFound names the secrets that are missing;
        the caller needs the editor role in the project (the role that runs pipelines)."""
        wanted = check_names(names, needed_by or "the secrets")
        if not wanted:
            return {}
        who = f"{needed_by} needs" if needed_by else "needed:"

        def fetch(session: Session) -> tuple[ProjectRow, builtins.list[ProjectSecretRow]]:
            found = find_project(session, project)
            rows = session.scalars(
                select(ProjectSecretRow).where(
                    ProjectSecretRow.project_id == found.id, ProjectSecretRow.name.in_(wanted)
                )
            )
            return found, builtins.list(rows)

        found, rows = self.db.query(fetch)
        if not principal.is_admin:
            principal.require_in(
                found.id, f"project {found.name!r}", Role.EDITOR, "reading secrets for a step"
            )
        missing = sorted(set(wanted) - {r.name for r in rows})
        if missing:
            raise NotFound(
                f"{who} secret(s) {', '.join(missing)}, which project {found.name!r} does not "
                f"have: set them with `dockyard secrets set -p {found.name} NAME`",
                details={"missing": missing},
            )
        key = self.keys.require(why=f"{who} secret(s) {', '.join(wanted)}")
        by_name = {r.name: r for r in rows}
        return {
            n: key.open(by_name[n].nonce, by_name[n].ciphertext, by_name[n].key_id, found.id, n)
            for n in wanted
        }
