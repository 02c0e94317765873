"""Files only the study's admins may download (the ratings exports), even by their URL.

Gradio serves any file of a static path to every signed-in user who asks for its URL. Under `--auth`, the
Results tab's exports hold every rating and comment, so the server answers 403 to anyone else:

    guard_files(request, EXPORTS_ROOT, ctx.admins)   # in the handler that writes the first export

`guard_files` puts an `AdminOnlyFiles` route in front of the running app's routes (once per app). It
matches only a file URL (`/gradio_api/file=...`) inside the guarded folder asked for by a user who is not
an admin; every other request, and an admin's, goes on to Gradio's own routes.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, NoMatchFound

REFUSAL = "Only study admins can download the study's exports."


def _user(scope) -> str | None:
    """The signed-in user of a request, as Gradio's own `get_current_user` reads it (its sign-in cookie)."""
    app = scope.get("app")
    cookie_id = getattr(app, "cookie_id", None)
    if cookie_id is None:
        return None
    cookies = Request(scope).cookies
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return getattr(app, "tokens", {}).get(token)


class AdminOnlyFiles(BaseRoute):
    """403 for a file URL inside `root` asked for by anyone but `admins`; no match for every other request."""

    def __init__(self, root: Path, admins: set[str]):
        self.root, self.admins = Path(root).resolve(), set(admins)

    def guards(self, path: str) -> bool:
        """Whether a request path asks for a file inside the guarded folder (`..` and links resolved)."""
        for marker in ("/file=", "/file/"):
            _, found, target = path.partition(marker)
            if found and target:
                try:
                    return Path(os.path.abspath(target)).resolve().is_relative_to(self.root)
                except (OSError, ValueError):
                    return True  # a path Python cannot even resolve: refused rather than guessed
        return False

    def matches(self, scope):
        if scope.get("type") != "http" or not self.guards(scope.get("path", "")):
            return Match.NONE, {}
        return (Match.NONE, {}) if _user(scope) in self.admins else (Match.FULL, {})

    async def handle(self, scope, receive, send) -> None:
        await PlainTextResponse(REFUSAL, status_code=403)(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params):
        raise NoMatchFound(name, path_params)


def guard_files(request, root: Path, admins: set[str]) -> bool:
    """Put an `AdminOnlyFiles` route for `root` first in the app that serves `request` (a gr.Request), once;
    True when the app has it. A request without an app (a test calling the handler) changes nothing."""
    app = getattr(getattr(request, "request", None), "app", None)
    router = getattr(app, "router", None)
    if router is None:
        return False
    root = Path(root).resolve()
    if not any(isinstance(route, AdminOnlyFiles) and route.root == root for route in router.routes):
        router.routes.insert(0, AdminOnlyFiles(root, admins))
    return True
