"""Optional OIDC bearer tokens: a JWT signed by a key of the configured JWKS (a URL, fetched and
cached by PyJWT, or a file), with the expected issuer and audience, whose role claim
(``AI_ANALYTICS_OIDC_ROLE_CLAIM``, default ``role``; a list takes its highest role) names
viewer, operator or admin. Anything else is no identity at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .roles import Identity

__all__ = ["OIDCVerifier"]

_RANK = {"viewer": 1, "operator": 2, "admin": 3}


class OIDCVerifier:
    def __init__(self, jwks: str, *, issuer: str | None, audience: str | None, role_claim: str = "role") -> None:
        # start-up cost: PyJWT loads only when OIDC is configured
        import jwt

        self._jwt = jwt
        self._issuer = issuer
        self._audience = audience
        self._role_claim = role_claim
        if jwks.startswith(("http://", "https://")):
            self._client: Any = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300)
            self._keys: dict[str, Any] = {}
        else:
            self._client = None
            data = json.loads(Path(jwks).read_text(encoding="utf-8"))
            self._keys = {k.get("kid", ""): jwt.PyJWK(k) for k in data["keys"]}

    def _key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = self._jwt.get_unverified_header(token).get("kid", "")
        return self._keys[kid].key

    def verify(self, token: str) -> Identity | None:
        jwt = self._jwt
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except (jwt.PyJWTError, KeyError, ValueError):
            return None
        value = claims.get(self._role_claim)
        roles = value if isinstance(value, list) else [value]
        known = [r for r in roles if isinstance(r, str) and r in _RANK]
        if not known:
            return None
        role = max(known, key=_RANK.__getitem__)
        return Identity(actor=f"oidc:{str(claims['sub'])[:100]}", role=role, via="oidc")
