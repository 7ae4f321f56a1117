"""Single sign-on through a real OpenID Connect provider (the ``oidc-provider`` npm package,
started on loopback from ui/node_modules), driven as a browser would: redirects, the
provider's login and consent forms, the callback, the session cookie and its CSRF token."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from conftest import ADMIN_TOKEN
from dockyard.core.errors import InvalidInput
from dockyard.server.app import create_app
from dockyard.server.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.server.sso import OidcSettings, safe_next
from dockyard.services import Services
from dockyard.store.tables import AuditEventRow

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = ROOT / "ui" / "e2e" / "oidc" / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "dockyard", "a-secret-only-these-tests-know"
API = "/api/v1"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "ui" / "node_modules" / "oidc-provider").is_dir():
        if os.environ.get("CI"):
            raise RuntimeError("the single sign-on tests need node and ui/node_modules")
        pytest.skip("node or ui/node_modules is missing (scripts/setup-ui.sh installs them)")
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Sso:
    server: RunningServer
    issuer: str
    accounts: Path

    def people(self, **groups: list[str]) -> None:
        """Who the provider knows, and their groups."""
        self.accounts.write_text(json.dumps({n: {"groups": g} for n, g in groups.items()}))

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url + API,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )


@pytest.fixture
def sso(services: Services, tmp_path: Path) -> Iterator[Sso]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    accounts = tmp_path / "accounts.json"
    accounts.write_text("{}")
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"{base}{API}/auth/oidc/callback",
        "OIDC_LOGOUT_URI": f"{base}/",
        "OIDC_ACCOUNTS_FILE": str(accounts),
    }
    provider = subprocess.Popen(
        [_node(), str(PROVIDER)], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT / "ui"
    )
    try:
        assert provider.stdout is not None
        issuer = ""
        for line in provider.stdout:
            if line.startswith("{"):
                issuer = json.loads(line)["issuer"]
                break
        assert issuer, "the OpenID provider did not start"
        settings = OidcSettings.from_environment(
            {
                "DOCKYARD_OIDC_ISSUER": issuer,
                "DOCKYARD_OIDC_CLIENT_ID": CLIENT_ID,
                "DOCKYARD_OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "DOCKYARD_OIDC_SCOPES": "openid email profile groups",
                "DOCKYARD_OIDC_ADMIN_GROUP": "platform-admins",
                "DOCKYARD_OIDC_LABEL": "Example SSO",
            }
        )
        app = create_app(services=services, token=ADMIN_TOKEN, sso=settings)
        running = serve_in_thread(app, port=port)
        made = Sso(running, issuer, accounts)
        with made.admin() as admin:  # a first account, so no one who signs in is made admin
            admin.post("/users", json={"name": "root", "kind": "service"}).raise_for_status()
        yield made
        running.stop()
    finally:
        provider.terminate()
        provider.wait(timeout=10)


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _submit_forms(browser: httpx.Client, page: httpx.Response, login: str) -> httpx.Response:
    """Fill in the provider's pages (login, then consent, then logout) until none is left."""
    for _ in range(4):
        found = _FORM.search(page.text)
        if found is None or urlsplit(str(page.url)).path.startswith(API):
            return page
        action, inside = found.groups()
        fields = {name: unescape(value) for name, value in _HIDDEN.findall(inside)}
        if 'name="login"' in inside:
            fields.update(login=login, password="anything")
        if 'name="logout"' in page.text:  # its "yes" button is outside the form
            fields["logout"] = "yes"
        page = browser.post(urljoin(str(page.url), unescape(action)), data=fields)
    return page


def sign_in(sso: Sso, login: str, next_path: str = "/runs") -> tuple[httpx.Client, httpx.Response]:
    """A browser that signed in as ``login`` at the provider, and the page it ended on."""
    browser = httpx.Client(follow_redirects=True, timeout=20)
    page = browser.get(f"{sso.server.url}{API}/auth/oidc/login", params={"next": next_path})
    return browser, _submit_forms(browser, page, login)


def _cookie(browser: httpx.Client, name: str) -> str | None:
    for cookie in browser.cookies.jar:
        if cookie.name == name:
            return cookie.value
    return None


def test_signing_in_makes_an_account_in_its_groups_teams(sso: Sso) -> None:
    with sso.admin() as admin:
        admin.post("/projects", json={"name": "fraud"}).raise_for_status()
        admin.post("/teams", json={"name": "risk", "sso_group": "risk-analysts"}).raise_for_status()
        admin.post("/teams", json={"name": "ops", "sso_group": "ops"}).raise_for_status()
        admin.post("/teams", json={"name": "by-hand"}).raise_for_status()
        grant = {"team": "risk", "role": "editor"}
        admin.put("/projects/fraud/grants", json=grant).raise_for_status()
    sso.people(alice=["risk-analysts", "unknown-group"])

    browser, page = sign_in(sso, "alice")
    assert page.status_code == 200 and urlsplit(str(page.url)).path == "/runs"
    me = browser.get(f"{sso.server.url}{API}/users/me").json()
    assert me["name"] == "alice" and me["projects"] == {"fraud": "editor"}
    with sso.admin() as admin:
        alice = admin.get("/users/alice").json()
        assert alice["email"] == "alice@example.com" and alice["sso_subject"] == "alice"
        assert alice["teams"] == ["risk"] and not alice["admin"] and not alice["has_password"]
        admin.post("/teams/by-hand/members", json={"users": ["alice"]}).raise_for_status()

    # the groups change at the provider: the next sign-in moves alice between group teams,
    # and leaves the team made by hand alone
    sso.people(alice=["ops"])
    again, _ = sign_in(sso, "alice")
    assert again.get(f"{sso.server.url}{API}/users/me").json()["projects"] == {}
    with sso.admin() as admin:
        assert admin.get("/users/alice").json()["teams"] == ["by-hand", "ops"]
        users = [u["name"] for u in admin.get("/users").json()]
        assert users.count("alice") == 1  # the same account, found by its subject

    # the provider's admin group makes a server admin, and taking it away takes the role
    sso.people(alice=["platform-admins"])
    admin_session, _ = sign_in(sso, "alice")
    assert admin_session.get(f"{sso.server.url}{API}/users").status_code == 200
    sso.people(alice=[])
    sign_in(sso, "alice")
    with sso.admin() as admin:
        assert admin.get("/users/alice").json()["admin"] is False


def test_the_session_cookie_is_http_only_and_writes_need_the_csrf_token(sso: Sso) -> None:
    sso.people(bob=[])
    browser = httpx.Client(follow_redirects=False, timeout=20)
    page = browser.get(f"{sso.server.url}{API}/auth/oidc/login")
    assert page.status_code == 302 and page.headers["location"].startswith(sso.issuer)
    flow = page.headers["set-cookie"]
    assert "httponly" in flow.lower() and "samesite=lax" in flow.lower()
    location = page.headers["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location
    while not location.startswith(sso.server.url):  # through the provider's pages
        page = browser.get(location) if page.is_redirect else page
        if page.is_redirect:
            location = urljoin(str(page.url), page.headers["location"])
            continue
        page = _submit_forms(browser, page, "bob")
        location = urljoin(str(page.url), page.headers["location"])
    done = browser.get(location)  # the callback
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookies = {c.split("=", 1)[0]: c for c in done.headers.get_list("set-cookie")}
    assert "httponly" in cookies[SESSION_COOKIE].lower()
    assert "samesite=lax" in cookies[SESSION_COOKIE].lower()
    assert "httponly" not in cookies[CSRF_COOKIE].lower()  # the page reads it

    session, csrf = _cookie(browser, SESSION_COOKIE), _cookie(browser, CSRF_COOKIE)
    assert session and session.startswith("dy_") and csrf == csrf_token(session)
    api = f"{sso.server.url}{API}"
    assert browser.get(f"{api}/users/me").json()["name"] == "bob"
    refused = browser.post(f"{api}/projects", json={"name": "mine"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    wrong = browser.post(f"{api}/projects", json={"name": "mine"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    made = browser.post(f"{api}/projects", json={"name": "mine"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # a bearer token is no cookie: it needs no CSRF token
    bearer = httpx.post(
        f"{api}/projects", json={"name": "other"}, headers={"Authorization": f"Bearer {session}"}
    )
    assert bearer.status_code == 201


def test_signing_out_ends_the_session_here_and_at_the_provider(sso: Sso) -> None:
    sso.people(carol=[])
    browser, _ = sign_in(sso, "carol")
    api = f"{sso.server.url}{API}"
    csrf = _cookie(browser, CSRF_COOKIE)
    session = _cookie(browser, SESSION_COOKIE)
    assert csrf and session
    assert browser.post(f"{api}/auth/logout").status_code == 403  # no CSRF token
    out = browser.post(f"{api}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    url = out.json()["logout_url"]
    assert url.startswith(sso.issuer) and "post_logout_redirect_uri=" in url
    assert _cookie(browser, SESSION_COOKIE) is None
    # the session token is revoked, not only forgotten by the browser
    kept = httpx.get(f"{api}/users/me", cookies={SESSION_COOKIE: session})
    assert kept.status_code == 401
    ended = _submit_forms(browser, browser.get(url), "carol")
    assert ended.status_code == 200 and str(ended.url).rstrip("/") == sso.server.url
    # signing in again needs the provider's login form again
    page = browser.get(f"{api}/auth/oidc/login")
    assert 'name="login"' in page.text


def test_a_forged_or_replayed_callback_signs_no_one_in(sso: Sso) -> None:
    sso.people(dave=[])
    api = f"{sso.server.url}{API}"
    # a callback with a code and state of nobody's making
    forged = httpx.get(f"{api}/auth/oidc/callback", params={"code": "x", "state": "y"})
    assert forged.status_code == 401 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    # the victim's callback URL opened in another browser (login CSRF): no flow cookie there
    browser = httpx.Client(follow_redirects=False, timeout=20)
    page = browser.get(f"{api}/auth/oidc/login")
    location = page.headers["location"]
    while not location.startswith(sso.server.url):
        page = browser.get(location) if page.is_redirect else page
        if page.is_redirect:
            location = urljoin(str(page.url), page.headers["location"])
            continue
        page = _submit_forms(browser, page, "dave")
        location = urljoin(str(page.url), page.headers["location"])
    stranger = httpx.get(location)
    assert stranger.status_code == 401 and "set-cookie" not in stranger.headers
    # the provider's refusal is a page that says so, not a server error
    refused = httpx.get(
        f"{api}/auth/oidc/callback", params={"error": "access_denied", "state": "z"}
    )
    assert refused.status_code == 401 and "Sign-in failed" in refused.text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", ""])
def test_signing_in_goes_back_only_to_this_server(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/runs?project=fraud") == "/runs?project=fraud"


def test_a_name_taken_by_an_account_is_never_taken_over(sso: Sso, services: Services) -> None:
    with sso.admin() as admin:
        made = admin.post("/users", json={"name": "erin", "password": "a long password 1"})
        made.raise_for_status()
    sso.people(erin=[])
    _, page = sign_in(sso, "erin")
    assert page.status_code == 409 and "dockyard users update erin" in page.text
    with sso.admin() as admin:
        link = {"sso_issuer": sso.issuer, "sso_subject": "erin"}
        assert admin.patch("/users/erin", json=link).status_code == 200
        half = admin.patch("/users/erin", json={"sso_subject": "erin"})
        assert half.status_code == 422
    browser, page = sign_in(sso, "erin")
    assert page.status_code == 200
    assert browser.get(f"{sso.server.url}{API}/users/me").json()["name"] == "erin"
    with sso.admin() as admin:
        admin.patch("/users/erin", json={"disabled": True}).raise_for_status()
    _, page = sign_in(sso, "erin")
    assert page.status_code == 401 and "disabled" in page.text

    events = services.db.query(
        lambda s: list(
            s.execute(
                select(AuditEventRow.actor, AuditEventRow.outcome).where(
                    AuditEventRow.operation == "auth.sso"
                )
            )
        )
    )
    assert [tuple(e) for e in events].count(("erin", "ok")) == 1
    assert ("erin", "denied") in [tuple(e) for e in events]


def test_the_methods_say_how_to_sign_in(sso: Sso) -> None:
    methods = httpx.get(f"{sso.server.url}{API}/auth/methods").json()
    assert methods == {
        "password": True,
        "sso": {"label": "Example SSO", "login": f"{API}/auth/oidc/login"},
    }


def test_an_unreachable_provider_is_a_clear_page(services: Services) -> None:
    settings = OidcSettings(
        issuer=f"http://127.0.0.1:{_free_port()}", client_id="c", client_secret="s"
    )
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN, sso=settings))
    try:
        page = httpx.get(f"{running.url}{API}/auth/oidc/login")
        assert page.status_code == 503 and "could not be reached" in page.text
    finally:
        running.stop()


def test_settings_from_the_environment_say_what_is_missing(tmp_path: Path) -> None:
    assert OidcSettings.from_environment({}) is None
    with pytest.raises(InvalidInput, match="DOCKYARD_OIDC_CLIENT_ID"):
        OidcSettings.from_environment({"DOCKYARD_OIDC_ISSUER": "https://id.example"})
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    made = OidcSettings.from_environment(
        {
            "DOCKYARD_OIDC_ISSUER": "https://id.example/",
            "DOCKYARD_OIDC_CLIENT_ID": "c",
            "DOCKYARD_OIDC_CLIENT_SECRET_FILE": str(secret),
            "DOCKYARD_PUBLIC_URL": "https://dockyard.example/",
        }
    )
    assert made is not None and made.client_secret == "s3cret"
    assert made.issuer == "https://id.example" and made.public_url == "https://dockyard.example"
    with pytest.raises(InvalidInput, match="SESSION_HOURS"):
        OidcSettings.from_environment(
            {
                "DOCKYARD_OIDC_ISSUER": "https://id.example",
                "DOCKYARD_OIDC_CLIENT_ID": "c",
                "DOCKYARD_OIDC_CLIENT_SECRET": "s",
                "DOCKYARD_SESSION_HOURS": "nan",
            }
        )
    with pytest.raises(InvalidInput, match="http"):
        OidcSettings.from_environment(
            {
                "DOCKYARD_OIDC_ISSUER": "id.example",
                "DOCKYARD_OIDC_CLIENT_ID": "c",
                "DOCKYARD_OIDC_CLIENT_SECRET": "s",
            }
        )
