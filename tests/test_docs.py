"""/docs and /redoc work without internet: every file they load comes from the service itself, nothing from a CDN."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tutor.app import DOCS_ASSETS, create_app

# Expected content type and a floor on the size of each kind of asset (the real files are far larger).
ASSET_KINDS = {".js": (("text/javascript", "application/javascript"), 100_000), ".css": (("text/css",), 10_000), ".png": (("image/png",), 500)}
URL_ATTRIBUTES = {"src", "href", "spec-url"}


class References(HTMLParser):
    """Collects every URL the page makes the browser load: script and link tags, and ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value:
                self.urls.append((tag, value))


def references(html: str) -> list[tuple[str, str]]:
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_files_of_the_service(client, page):
    response = client.get(page)  # no credential: the page is public, like /openapi.json
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text, "the page names an outside address"
    urls = references(response.text)
    assets = [url for tag, url in urls if tag in ("script", "link")]
    assert any(url.endswith(".js") for url in assets), urls
    for tag, url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"<{tag}> loads {url} from outside the service"
    for url in assets:
        assert url.startswith(f"{DOCS_ASSETS}/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        types, floor = ASSET_KINDS[url[url.rindex(".") :]]
        assert asset.headers["content-type"].split(";")[0] in types, (url, asset.headers["content-type"])
        assert len(asset.content) > floor, (url, len(asset.content))


def test_swagger_ui_neither_validates_online_nor_imports_styles(client):
    page = client.get("/docs").text
    assert '"validatorUrl": null' in page  # otherwise Swagger UI sends the schema to validator.swagger.io
    css = client.get(f"{DOCS_ASSETS}/swagger-ui.css").text
    assert "@import" not in css and "url(http" not in css


def test_oauth2_redirect_page_and_schema_still_answer(client):
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/health" in paths
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths), "the docs pages are not part of the API"


def test_docs_behind_a_path_prefix_load_their_files_under_it(runtime):
    """Behind a reverse proxy that serves the service under /tutor, the page must name /tutor/... files."""
    with TestClient(create_app(runtime=runtime), root_path="/tutor") as prefixed:
        urls = [url for _, url in references(prefixed.get("/docs").text)]
    assert urls and all(url.startswith(f"/tutor{DOCS_ASSETS}/") for url in urls), urls
