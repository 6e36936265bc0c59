"""OIDC bearer tokens, verified against a JWKS made here with a locally generated key: the role
claim maps to a role; a wrong issuer, a wrong key or an expired token is no identity."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import LiveServer, make_settings

ISSUER = "https://login.example.com"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: rsa.RSAPrivateKey, *, role: object = "viewer", issuer: str = ISSUER, exp: float | None = None) -> str:
    claims = {
        "sub": "alice",
        "iss": issuer,
        "aud": "plugin-ai-analytics",
        "exp": exp or time.time() + 300,
        "role": role,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def oidc_server(tmp_path):
    key = _key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    settings = make_settings(
        tmp_path, oidc_jwks=str(jwks), oidc_issuer=ISSUER, oidc_audience="plugin-ai-analytics", scheduler_enabled=False
    )
    service = AnalyticsService(settings)
    service.start(background=False)
    live = LiveServer(service).start()
    yield live, key
    live.stop()
    service.close()


def test_oidc_tokens_map_their_role_claim_and_bad_ones_are_refused(oidc_server) -> None:
    live, key = oidc_server
    api = live.url + "/api/plugin-ai-analytics"

    def call(method: str, path: str, token: str) -> int:
        return httpx.request(method, api + path, headers={"Authorization": f"Bearer {token}"}).status_code

    assert call("GET", "/plugins", _token(key)) == 200
    me = httpx.get(api + "/auth/me", headers={"Authorization": f"Bearer {_token(key)}"}).json()
    assert me == {"actor": "oidc:alice", "role": "viewer", "plugins": None, "via": "oidc"}
    assert call("DELETE", "/plugins/x", _token(key)) == 403
    assert call("DELETE", "/plugins/x", _token(key, role=["viewer", "admin"])) == 404  # allowed; no such plugin
    assert call("GET", "/plugins", _token(key, issuer="https://evil.example")) == 401
    assert call("GET", "/plugins", _token(_key())) == 401  # signed by another key
    assert call("GET", "/plugins", _token(key, exp=time.time() - 10)) == 401
    assert call("GET", "/plugins", _token(key, role="superuser")) == 401
