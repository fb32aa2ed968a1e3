"""Who sent a command, as the agency's identity provider says, never as the message says.

An officer's command carries a signed token in the ``x-casemesh-identity`` record header
(:data:`contracts.envelope.IDENTITY_HEADER`): a JWT verified against the configured JWKS,
issuer, audience and expiry. Its ``sub`` is the officer id, its ``roles`` the roles the officer
holds, its ``casemesh_privilege`` (1-5) what sensitive notes and attachments they may read. The
command's ``actor`` must agree: the same officer id, and a role the token grants. Otherwise the
command is refused, ``UNAUTHENTICATED`` (no token, or one that does not verify) or
``ACTOR_MISMATCH``, as the service's ``…Rejected`` event.

Every record a service publishes carries a token the service signs with the mesh's service
secret (HS256, ``kid`` ``service:<name>``), which no outside producer holds: its timers' commands,
acting as ``SYSTEM``, and the commands it sends another service on an officer's behalf (referrals
asking approvals for a decision, with the officer it verified as the actor). Officer tokens are
only ever checked with the JWKS's asymmetric keys, so the two kinds cannot be confused.

The development key (``identity_jwks = "development"``) signs tokens for local runs, the demo
and tests (``casemesh token``); production settings refuse it (kit/settings.py).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWKSet
from jwt.exceptions import PyJWTError
from jwt.types import Options

from contracts.base import Actor, Role
from contracts.envelope import IDENTITY_HEADER
from contracts.topics import SERVICES
from kit.settings import DEVELOPMENT_JWKS, ServiceSettings

DEVELOPMENT_KEY_FILE = Path(__file__).with_name("development-identity-key.pem")
DEVELOPMENT_KID = "casemesh-development-key-not-for-production"
OFFICER_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
SERVICE_ALGORITHM = "HS256"
SERVICE_KID_PREFIX = "service:"
SERVICE_AUDIENCE = "casemesh-services"
MESH_SERVICES = frozenset(SERVICES)
ROLES_CLAIM = "roles"
PRIVILEGE_CLAIM = "casemesh_privilege"
MAX_TOKEN_CHARS = 8192
SERVICE_TOKEN_TTL_S = 3600
CACHE_SIZE = 4096
JUDGED_LATER: Options = {
    "require": ["exp", "iat", "sub", "iss", "aud"],
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
}
"""Claims every token must have; its times are judged by the kit, at the moment the broker
received the record (``Verifier.verify``)."""


class Unauthenticated(Exception):
    """No identity could be verified; ``reason`` names what failed, never the token's content."""

    code = "UNAUTHENTICATED"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A verified identity: an officer (roles, privilege) or a service acting on its own."""

    subject: str
    roles: frozenset[Role]
    privilege: int | None = None
    service: str | None = None
    expires_at: float = 0.0
    valid_from: float = 0.0

    def valid_at(self, moment: float, leeway_s: float) -> bool:
        return self.valid_from - leeway_s <= moment <= self.expires_at + leeway_s

    def mismatch(self, actor: Actor) -> str | None:
        """Why ``actor`` is not this identity, or None when it is. A service of the mesh acts as
        SYSTEM, or for the officer whose command it verified."""
        if self.service is not None:
            return None
        if actor.role is Role.SYSTEM:
            return "the SYSTEM role belongs to the services' own commands"
        if actor.officer_id != self.subject:
            return "actor.officer_id is not the token's subject"
        if actor.role not in self.roles:
            return "actor.role is not among the token's roles"
        return None


@dataclass(frozen=True)
class Verdict:
    """A command whose actor could not be verified: refused with ``code`` and ``reason``."""

    code: str
    reason: str


@dataclass(frozen=True)
class Unverified:
    """A command whose actor could not be verified, as the kit hands it on: it goes to the
    aggregate the command names and is answered there with the service's ``…Rejected`` event
    (kit/spec.py), committed and published like any refusal; its rule never runs."""

    message: Any
    verdict: Verdict


def unwrap(message: Any) -> Any:
    """The command itself, verified or not."""
    return message.message if isinstance(message, Unverified) else message


class Verifier:
    """Verifies officer tokens against a JWKS and this service's own tokens against its secret."""

    def __init__(
        self,
        keys: PyJWKSet,
        *,
        issuer: str,
        audience: str,
        service: str,
        service_secret: bytes,
        leeway_s: int = 30,
        clock: Any = time.time,
    ) -> None:
        self.keys = {key.key_id: key for key in keys.keys if key.key_id}
        self.unnamed = [key for key in keys.keys if not key.key_id]
        self.issuer = issuer
        self.audience = audience
        self.service = service
        self.service_secret = service_secret
        self.leeway_s = leeway_s
        self.clock = clock
        self._verified: OrderedDict[str, Identity] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Verifier:
        return cls(
            load_jwks(settings.identity_jwks),
            issuer=settings.identity_issuer,
            audience=settings.identity_audience,
            service=settings.service_name,
            service_secret=service_secret(settings),
            leeway_s=settings.identity_leeway_s,
        )

    def verify(self, token: str, at: float | None = None) -> Identity:
        """The identity the token proves, judged at ``at`` (epoch seconds; now when None); raises
        :class:`Unauthenticated`."""
        if not token:
            raise Unauthenticated("no identity token")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated(f"the identity token is longer than {MAX_TOKEN_CHARS} characters")
        moment = self.clock() if at is None else at
        known = self._verified.get(token)
        if known is not None and known.valid_at(moment, self.leeway_s):
            self._verified.move_to_end(token)
            return known
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise Unauthenticated("the identity token is not a JWT") from None
        kid = header.get("kid")
        if isinstance(kid, str) and kid.startswith(SERVICE_KID_PREFIX):
            identity = self._service_identity(token, kid)
            what = "the service token"
        else:
            identity = self._officer_identity(token, kid)
            what = "the identity token"
        if moment > identity.expires_at + self.leeway_s:
            raise Unauthenticated(f"{what} has expired")
        if moment < identity.valid_from - self.leeway_s:
            raise Unauthenticated(f"{what} is not valid yet")
        self._verified[token] = identity
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    def bearer(self, authorization: str | None) -> Identity:
        """The identity an HTTP ``Authorization: Bearer <token>`` header proves."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("an Authorization: Bearer token is required")
        return self.verify(token.strip())

    def check(
        self, headers: Mapping[str, bytes | None], message: Any, at: float | None = None
    ) -> Verdict | None:
        """None when ``message`` needs no identity or its actor is the verified one. ``at`` is when
        the broker received the record, where it says: a command sent with a valid token stays
        valid through a backlog that outlasts the token."""
        actor = getattr(message, "actor", None)
        if not isinstance(actor, Actor):
            return None
        raw = headers.get(IDENTITY_HEADER)
        try:
            token = raw.decode("ascii") if raw else ""
        except UnicodeDecodeError:
            token = ""
        try:
            identity = self.verify(token, at)
        except Unauthenticated as exc:
            return Verdict(Unauthenticated.code, exc.reason)
        mismatch = identity.mismatch(actor)
        if mismatch is not None:
            return Verdict("ACTOR_MISMATCH", mismatch)
        return None

    def _officer_identity(self, token: str, kid: Any) -> Identity:
        candidates = [self.keys[kid]] if isinstance(kid, str) and kid in self.keys else self.unnamed
        if not candidates:
            raise Unauthenticated("the identity token's key is not among the provider's keys")
        failure = "the identity token does not verify"
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key=key,
                    algorithms=list(OFFICER_ALGORITHMS),
                    audience=self.audience,
                    issuer=self.issuer,
                    options=JUDGED_LATER,
                )
            except jwt.InvalidAudienceError:
                failure = "the identity token's audience is wrong"
                continue
            except jwt.InvalidIssuerError:
                failure = "the identity token's issuer is wrong"
                continue
            except jwt.MissingRequiredClaimError as exc:
                raise Unauthenticated(f"the identity token lacks the {exc.claim} claim") from None
            except PyJWTError:
                continue
            return _officer(claims)
        raise Unauthenticated(failure)

    def _service_identity(self, token: str, kid: str) -> Identity:
        service = kid.removeprefix(SERVICE_KID_PREFIX)
        if service not in MESH_SERVICES and service != self.service:
            raise Unauthenticated("the service token names no service of the mesh")
        try:
            claims = jwt.decode(
                token,
                key=self.service_secret,
                algorithms=[SERVICE_ALGORITHM],
                audience=SERVICE_AUDIENCE,
                issuer=kid,
                options=JUDGED_LATER,
            )
        except PyJWTError:
            raise Unauthenticated("the service token does not verify") from None
        expires_at, valid_from = _times(claims)
        return Identity(
            subject=str(claims["sub"]),
            roles=frozenset({Role.SYSTEM}),
            service=service,
            expires_at=expires_at,
            valid_from=valid_from,
        )


def _officer(claims: Mapping[str, Any]) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("the identity token's sub is not an officer id")
    raw_roles = claims.get(ROLES_CLAIM, [])
    if not isinstance(raw_roles, list):
        raise Unauthenticated(f"the identity token's {ROLES_CLAIM} claim is not a list")
    # SYSTEM is never an officer's role, whatever the provider says.
    roles = frozenset(
        Role(r) for r in raw_roles if isinstance(r, str) and r in Role.__members__ and r != Role.SYSTEM
    )
    privilege = claims.get(PRIVILEGE_CLAIM)
    if privilege is not None and (
        not isinstance(privilege, int) or isinstance(privilege, bool) or not 1 <= privilege <= 5
    ):
        raise Unauthenticated(f"the identity token's {PRIVILEGE_CLAIM} claim is not 1-5")
    expires_at, valid_from = _times(claims)
    return Identity(
        subject=subject, roles=roles, privilege=privilege, expires_at=expires_at, valid_from=valid_from
    )


def _times(claims: Mapping[str, Any]) -> tuple[float, float]:
    """When a token is valid: from its ``iat`` (or a later ``nbf``) to its ``exp``."""
    try:
        expires_at = float(claims["exp"])
        valid_from = max(float(claims["iat"]), float(claims.get("nbf", 0)))
    except (TypeError, ValueError):
        raise Unauthenticated("the identity token's exp, iat or nbf is not a number") from None
    return expires_at, valid_from


# -- keys


def load_jwks(source: str) -> PyJWKSet:
    """The JWKS named by ``identity_jwks``: the development key, an https URL or a file."""
    if source == DEVELOPMENT_JWKS:
        return PyJWKSet.from_dict(development_jwks())
    if source.startswith("https://"):
        with urllib.request.urlopen(source, timeout=10) as response:
            return PyJWKSet.from_dict(json.loads(response.read(1_000_000)))
    if source.startswith("http://"):
        raise ValueError("identity_jwks must be fetched over https")
    return PyJWKSet.from_dict(json.loads(Path(source).read_text()))


def service_secret(settings: ServiceSettings) -> bytes:
    """The key the mesh's services sign their records with (a development one when unset)."""
    secret = settings.identity_service_secret.get_secret_value()
    if secret:
        return secret.encode()
    return hashlib.sha256(b"casemesh-development-service-secret").digest()


def service_token(settings: ServiceSettings, now: float | None = None) -> str:
    """A token proving a command comes from this service itself (its timers)."""
    issued = int(time.time() if now is None else now)
    kid = f"{SERVICE_KID_PREFIX}{settings.service_name}"
    claims = {
        "sub": kid,
        "iss": kid,
        "aud": SERVICE_AUDIENCE,
        "iat": issued,
        "exp": issued + SERVICE_TOKEN_TTL_S,
    }
    return jwt.encode(claims, service_secret(settings), algorithm=SERVICE_ALGORITHM, headers={"kid": kid})


class ServiceTokens:
    """This service's own token, renewed well before it expires."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._token = ""
        self._renew_at = 0.0

    def token(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            self._token = service_token(self.settings, now)
            self._renew_at = now + SERVICE_TOKEN_TTL_S / 2
        return self._token


@cache
def _development_private_key() -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(DEVELOPMENT_KEY_FILE.read_bytes(), password=None)


def development_jwks() -> dict[str, Any]:
    """The development key's public half, as a JWKS."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(_development_private_key().public_key()))
    return {"keys": [{**jwk, "kid": DEVELOPMENT_KID, "alg": "ES256", "use": "sig"}]}


def development_token(
    officer_id: str,
    roles: Iterable[Role | str],
    *,
    privilege: int | None = None,
    ttl_s: int = 3600,
    issuer: str = "casemesh-development",
    audience: str = "casemesh",
    now: float | None = None,
) -> str:
    """A token signed with the development key: for local runs, the demo and tests only."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": officer_id,
        ROLES_CLAIM: [str(Role(r)) for r in roles],
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_s,
        "casemesh_development": True,
    }
    if privilege is not None:
        claims[PRIVILEGE_CLAIM] = privilege
    return jwt.encode(claims, _development_private_key(), algorithm="ES256", headers={"kid": DEVELOPMENT_KID})


_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}


def development_headers(actor: Actor | None, *, privilege: int | None = None) -> dict[str, bytes]:
    """The identity header a command by ``actor`` needs, signed with the development key (reused
    for half its life: a load generator signs each officer's token once)."""
    if actor is None or actor.role is Role.SYSTEM:
        return {}
    key = (actor.officer_id, actor.role.value)
    cached = _TOKENS.get(key)
    now = time.time()
    if cached is None or cached[1] < now:
        token = development_token(actor.officer_id, [actor.role], privilege=privilege)
        cached = (token, now + 1800)
        _TOKENS[key] = cached
    return {IDENTITY_HEADER: cached[0].encode()}


def development_headers_for(value: bytes | None) -> dict[str, bytes]:
    """The identity header an enveloped command needs, from its payload's actor; none for a
    record without one (an event, a malformed record)."""
    try:
        actor = json.loads(value or b"")["payload"]["actor"]
        return development_headers(Actor.model_validate(actor))
    except (ValueError, KeyError, TypeError, RecursionError):  # not JSON, no actor, not an Actor
        return {}
