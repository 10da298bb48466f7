"""A tiny OpenID Connect provider on loopback, for signing in with ``st.login`` in tests.

It speaks the authorization-code flow as Streamlit's client (Authlib) uses it: discovery,
``/authorize`` (signs in whoever ``next_email`` names, at once, and redirects back with a
code), ``/token`` (an RS256 ID token carrying the nonce it was given) and ``/jwks``. Nothing
leaves the machine.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "mnist-cnn-studio"
CLIENT_SECRET = "test-secret"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test"}, private=True)
        self.next_email = "someone@school.example"
        self.codes: dict[str, dict] = {}
        self.tokens_issued = 0
        handler = type("Handler", (_Handler,), {"provider": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def secrets_toml(self, redirect_uri: str) -> str:
        """``.streamlit/secrets.toml``'s ``[auth]`` for a dashboard using this provider."""
        return (
            "[auth]\n"
            f'redirect_uri = "{redirect_uri}"\n'
            f'cookie_secret = "{secrets.token_hex(16)}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{self.metadata_url}"\n'
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, data: dict, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        p = self.provider
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            self._json({
                "issuer": p.url,
                "authorization_endpoint": f"{p.url}/authorize",
                "token_endpoint": f"{p.url}/token",
                "jwks_uri": f"{p.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
            })  # fmt: skip
        elif url.path == "/jwks":
            self._json({"keys": [p.key.as_dict(private=False)]})
        elif url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID:
                self._json({"error": "unauthorized_client"}, 400)
                return
            code = secrets.token_urlsafe(16)
            p.codes[code] = {"nonce": query.get("nonce"), "email": p.next_email}
            back = {"code": code, "state": query.get("state", "")}
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri']}?{urllib.parse.urlencode(back)}")
            self.end_headers()
        else:
            self._json({"error": "not_found"}, 404)

    def do_POST(self) -> None:
        p = self.provider
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        if urllib.parse.urlsplit(self.path).path != "/token":
            self._json({"error": "not_found"}, 404)
            return
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            user, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", urllib.parse.unquote(user))
            form.setdefault("client_secret", urllib.parse.unquote(secret))
        grant = p.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("client_secret") != CLIENT_SECRET:
            self._json({"error": "invalid_grant"}, 400)
            return
        now = int(time.time())
        claims = {
            "iss": p.url, "aud": CLIENT_ID, "sub": grant["email"], "email": grant["email"],
            "email_verified": True, "name": grant["email"].split("@")[0].title(),
            "iat": now, "exp": now + 3600,
        }  # fmt: skip
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": "test"}, claims, p.key)
        p.tokens_issued += 1
        self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                    "expires_in": 3600, "id_token": id_token})  # fmt: skip
