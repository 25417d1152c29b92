"""A test LMS platform (Moodle, Open edX, Canvas stand-in) for LTI 1.3 tests, made in the tests: no network.

`LmsPlatform` has its own RSA key and key set, makes id_tokens (valid, or broken in one chosen way), can
publish its key set at a JWKS URL served from a local thread (`serve_jwks`), and plays the platform's
auth endpoint: given the tool's login redirect, `authorize` returns the form_post body the browser
would send to the tool's launch URL. Used by tests/lti and by the pages' browser test:

    lms = LmsPlatform()
    lms.register(client, admin_key)                       # pasted key set; or jwks_url=lms.serve_jwks()
    r = client.get("/lti/login", params=lms.login_params(), follow_redirects=False)
    r = client.post("/lti/launch", data=lms.authorize(r.headers["location"]), follow_redirects=False)
    assert r.status_code == 303                            # signed in, to the learner's home

The client must send Secure cookies (an https base URL, as `TestClient(app, base_url="https://testserver")`).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LmsPlatform:
    """One platform: issuer, the client id it gave the tool, a deployment, and its signing key."""

    def __init__(self, issuer: str = "https://lms.binhdan.test", client_id: str = "tutor-test", deployment_id: str = "deployment-1",
                 login_url: str = "https://lms.binhdan.test/auth", kid: str = "lms-key-1") -> None:
        self.issuer, self.client_id, self.deployment_id, self.login_url = issuer, client_id, deployment_id, login_url
        self.kid, self.key = kid, new_key()
        self.jwks_requests = 0
        self._server: ThreadingHTTPServer | None = None

    def jwks(self) -> dict:
        """The platform's public key set."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def rotate_key(self, kid: str) -> None:
        """A new signing key under a new key id (the served key set follows)."""
        self.kid, self.key = kid, new_key()

    def serve_jwks(self) -> str:
        """Serve the key set from a thread on 127.0.0.1 (stopped by `close`); returns its URL."""
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
                platform.jwks_requests += 1
                body = json.dumps(platform.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def registration(self, jwks_url: str | None = None) -> dict:
        """The body of POST /v1/admin/lti/platforms for this platform (pasted keys unless a JWKS URL is given)."""
        keys: dict[str, Any] = {"jwks_url": jwks_url} if jwks_url else {"jwks": self.jwks()}
        return {"issuer": self.issuer, "client_id": self.client_id, "login_url": self.login_url, "deployments": [self.deployment_id], **keys}

    def register(self, client: Any, admin_key: str, jwks_url: str | None = None) -> int:
        r = client.post("/v1/admin/lti/platforms", json=self.registration(jwks_url), headers={"Authorization": f"Bearer {admin_key}"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def login_params(self, **changes: str | None) -> dict[str, str]:
        """The third-party-initiated login request's parameters; a change to None leaves that one out."""
        params: dict[str, str | None] = {
            "iss": self.issuer, "login_hint": "hint-42", "target_link_uri": "https://tutor.test/lti/launch",
            "lti_message_hint": "msg-7", "client_id": self.client_id, "lti_deployment_id": self.deployment_id, **changes,
        }
        return {k: v for k, v in params.items() if v is not None}

    def claims(self, nonce: str, sub: str = "moodle-user-1234", **changes: Any) -> dict:
        """A valid LtiResourceLinkRequest's claims; changes replace claims (None removes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "exp": now + 300, "iat": now, "nonce": nonce,
            "name": "Nguyễn Văn An", "email": "an.nguyen@example.vn",
            CLAIM + "deployment_id": self.deployment_id, CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "target_link_uri": "https://tutor.test/lti/launch", CLAIM + "resource_link": {"id": "lesson-scams"},
            CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, nonce: str, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, algorithm: str = "RS256",
                 **changes: Any) -> str:
        """A signed id_token: by this platform's key, or `key` (a forged signature); `kid` overrides the header's key id."""
        signing: Any = key or self.key
        if algorithm == "HS256":
            signing = "a shared secret the tool never agreed to"
        return jwt.encode(self.claims(nonce, **changes), signing, algorithm=algorithm, headers={"kid": kid or self.kid})

    def authorize(self, location: str, **token: Any) -> dict[str, str]:
        """Play the platform's auth endpoint: check the tool's redirect, answer the form_post body (id_token, state).

        `token` passes on to `id_token` (for example sub=..., aud=..., exp=..., key=new_key(), or another nonce)."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == self.login_url, location
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none", "client_id": self.client_id,
                    "login_hint": "hint-42", "lti_message_hint": "msg-7"}
        assert {k: query.get(k) for k in expected} == expected, query
        assert query["redirect_uri"].endswith("/lti/launch") and query["state"] and query["nonce"], query
        nonce = token.pop("nonce", query["nonce"])
        return {"id_token": self.id_token(nonce, **token), "state": query["state"]}
