"""`make run` serves the dashboard's and the admin's static files whether DEBUG is on or off.

The web server is started as `make run` starts it (config.settings.local, the same daphne command) on the
test's stores; WhiteNoise's finders once took their default from DEBUG before the local settings set it,
and every file below answered 404.
"""

from __future__ import annotations

import pytest

from tests.support.processes import WebServer, make_run_env, running

ASSETS = {
    "/static/dashboard/dashboard.css": "text/css",
    "/static/dashboard/inbox.js": "text/javascript",
    "/static/dashboard/vendor/htmx.min.js": "text/javascript",
    "/static/admin/css/base.css": "text/css",
    "/favicon.ico": "image/x-icon",
}


@pytest.mark.parametrize("debug", [None, "true", "false"])  # None: a fresh clone, no .env
def test_static_files_answer_200_under_make_runs_settings(tenant_a, debug: str | None) -> None:
    env = make_run_env()
    env.pop("DJANGO_DEBUG", None)
    if debug is not None:
        env["DJANGO_DEBUG"] = debug
    with running(WebServer(env=env)) as web:
        for host in ("localhost", tenant_a.get_primary_domain().domain):
            with web.client(host) as client:
                for path, content_type in ASSETS.items():
                    response = client.get(path)
                    assert response.status_code == 200, (debug, host, path)
                    assert response.headers["content-type"].startswith(content_type), (path, response.headers)
