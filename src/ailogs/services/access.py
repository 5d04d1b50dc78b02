"""Who may ask what: API keys, workspaces, per-caller rate limits, denial audit.

The API calls `AccessControl.admit` once per request (HTTP and the WebSocket
handshake alike) and gets back a `Principal` carrying the Loki tenant every
call must use. Every refusal is raised as `errors.Unauthorized`, `Forbidden`
or `RateLimited` and recorded in the audit table with the key id, never the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ailogs.cache.flight import SingleFlight
from ailogs.errors import DatabaseUnavailable, Forbidden, RateLimited, Unauthorized
from ailogs.ratelimit import RateDecision, RateLimiter
from ailogs.services.api_keys import (
    ApiKeyRecord,
    ApiKeyRepository,
    secret_matches,
    split_token,
)
from ailogs.services.audit import AuditEntry, AuditRecorder
from ailogs.store.enums import AuditOutcome

_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request. Empty `workspaces` means every workspace."""

    key_id: str | None
    tenant: str | None
    workspaces: frozenset[str] = frozenset()
    client: str = "unknown"

    @property
    def anonymous(self) -> bool:
        """True when the server runs without keys."""
        return self.key_id is None

    @property
    def rate_key(self) -> str:
        """The bucket this caller's requests count against."""
        return f"key:{self.key_id}" if self.key_id else f"addr:{self.client}"

    def may_read(self, workspace_id: str | None) -> bool:
        """True when this caller may read `workspace_id` (None: the whole tenant)."""
        if not self.workspaces:
            return True
        return workspace_id is not None and workspace_id in self.workspaces


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the door knows of a request before it runs."""

    path: str
    client: str
    authorization: str | None = None
    workspace_id: str | None = None
    request_id: str | None = None
    # False where the workspace arrives later (a WebSocket filter, a JSON body).
    workspace_required: bool = True


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted request: who it is, and the rate decision (for headers)."""

    principal: Principal
    rate: RateDecision | None


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IPs; any other name or address counts as public."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _TtlCache:
    """A small LRU of recent key lookups, so a request costs no database read."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ApiKeyRecord | None]] = OrderedDict()

    def get(
        self, key: str, *, stale_ok: bool = False, stale_for_s: float | None = None
    ) -> tuple[bool, ApiKeyRecord | None]:
        """An entry; expired ones with `stale_ok`, at most `stale_for_s` past expiry."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        now = self._clock()
        if now >= entry[0] and not stale_ok:
            return False, None
        if stale_for_s is not None and now >= entry[0] + stale_for_s:
            return False, None
        return True, entry[1]

    def put(self, key: str, value: ApiKeyRecord | None) -> None:
        self._entries[key] = (self._clock() + self._ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class AccessControl:
    """Authenticates keys, checks workspaces, applies rate limits, audits refusals.

    Key lookups and the "are there any keys" answer are cached for
    `lookup_ttl_s`, so a revocation or the first key takes effect within that
    time (and one database read) on every replica without a database read per
    request. An expired answer is refreshed in the background while it is used.
    """

    def __init__(
        self,
        *,
        keys: ApiKeyRepository,
        limiter: RateLimiter | None,
        audit: AuditRecorder | None,
        default_tenant: str | None,
        open_allowed: bool = True,
        lookup_ttl_s: float = 5.0,
        touch_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._audit = audit
        self._default_tenant = default_tenant
        self._open_allowed = open_allowed
        self._lookup_ttl_s = lookup_ttl_s
        self._touch_interval_s = touch_interval_s
        self._clock = clock
        self._lookups = _TtlCache(lookup_ttl_s, 10_000, clock)
        self._open_until = 0.0
        self._open = True
        self._known = False
        self._recount_now = False
        self._refreshing: set[str] = set()
        self._recount_task: asyncio.Future[None] | None = None
        self._touched: dict[str, float] = {}
        self._lookup_flights = SingleFlight()
        self._touch_tasks: set[asyncio.Future[None]] = set()

    @property
    def limiter(self) -> RateLimiter | None:
        """The rate limiter requests count against."""
        return self._limiter

    @property
    def audit(self) -> AuditRecorder | None:
        """Where refusals are recorded."""
        return self._audit

    async def keys_configured(self) -> bool:
        """True when at least one active key exists (cached briefly).

        Once the count is known, an expired answer is still used while one
        background task recounts: under load a count can take a while, and every
        request waiting on it would stall the whole API together.
        """
        now = self._clock()
        if now >= self._open_until:
            # As for key lookups: a count at most one TTL past expiry is used meanwhile.
            if (
                self._known
                and not self._recount_now
                and now < self._open_until + self._lookup_ttl_s
            ):
                if self._recount_task is None or self._recount_task.done():
                    self._recount_task = asyncio.ensure_future(self._recount())
            else:
                await self._recount()
        return not self._open

    async def _recount(self) -> None:
        now = self._clock()
        try:
            # One count however many callers need it at once.
            active = await self._lookup_flights.run("", self._keys.count_active)
            self._open = active == 0
        except DatabaseUnavailable:
            if not self._known:
                raise  # never guess "open" about a database we have not read
        self._known = True
        self._recount_now = False
        self._open_until = now + self._lookup_ttl_s

    def forget_cached_keys(self) -> None:
        """Drop cached lookups (after a revocation in this process)."""
        self._lookups.clear()
        self._open_until = 0.0
        self._recount_now = True

    async def admit(self, facts: RequestFacts) -> Admission:
        """Authenticate, authorise the workspace, apply the rate limit, or raise."""
        principal = await self.authenticate(facts)
        if facts.workspace_id is not None or facts.workspace_required:
            self.authorize_workspace(principal, facts.workspace_id, facts)
        rate = await self.check_rate(principal, facts)
        return Admission(principal, rate)

    async def authenticate(self, facts: RequestFacts) -> Principal:
        """The caller behind the Authorization header, or raise Unauthorized."""
        header = facts.authorization
        if not await self.keys_configured():
            if not self._open_allowed:
                self._deny(facts, AuditOutcome.BAD_KEY, "no keys on a public address")
                raise Unauthorized(
                    "This server has no API keys and is not reachable anonymously.",
                    remediation="Create a key with `ailogs keys create`, "
                    "or set AILOGS_ALLOW_ANONYMOUS=true.",
                )
            # Open mode: no key can be valid, so none is asked for or checked.
            return Principal(None, self._default_tenant, client=facts.client)
        if not header:
            self._deny(facts, AuditOutcome.BAD_KEY, "missing API key")
            raise Unauthorized("This server requires an API key.")
        return await self._keyed(facts, header)

    def authorize_workspace(
        self, principal: Principal, workspace_id: str | None, facts: RequestFacts
    ) -> None:
        """Raise Forbidden when the caller may not read `workspace_id`."""
        if principal.may_read(workspace_id):
            return
        self._deny(
            facts,
            AuditOutcome.WRONG_WORKSPACE,
            "workspace outside the key's list" if workspace_id else "no workspace named",
            principal=principal,
        )
        if workspace_id is None:
            raise Forbidden(
                "This key reads only some workspaces; name one with workspace_id.",
                field="workspace_id",
            )
        raise Forbidden("This key may not read that workspace.", field="workspace_id")

    async def check_rate(self, principal: Principal, facts: RequestFacts) -> RateDecision | None:
        """Count the request against the caller's rate, or raise RateLimited."""
        if self._limiter is None:
            return None
        decision = await self._limiter.acquire(principal.rate_key)
        if decision.allowed:
            return decision
        self._deny(facts, AuditOutcome.RATE_LIMITED, "rate limit exceeded", principal=principal)
        raise RateLimited(
            f"Too many requests; retry in {decision.retry_after_header} s.",
            headers={"Retry-After": decision.retry_after_header, "RateLimit-Remaining": "0"},
        )

    async def _keyed(self, facts: RequestFacts, header: str) -> Principal:
        if header[: len(_BEARER)].lower() != _BEARER:
            self._deny(facts, AuditOutcome.BAD_KEY, "authorization is not a bearer token")
            raise Unauthorized("Send the key as `Authorization: Bearer <key>`.")
        parts = split_token(header[len(_BEARER) :].strip())
        if parts is None:
            self._deny(facts, AuditOutcome.BAD_KEY, "malformed API key")
            raise Unauthorized("The API key is malformed.")
        key_id, secret = parts
        record = await self._lookup(key_id)
        if record is None or not secret_matches(secret, record.key_hash):
            self._deny(facts, AuditOutcome.BAD_KEY, "unknown key or wrong secret", key_id=key_id)
            raise Unauthorized("The API key is not valid.")
        if not record.active:
            self._deny(facts, AuditOutcome.BAD_KEY, "revoked key", key_id=key_id)
            raise Unauthorized("The API key was revoked.")
        await self._touch(key_id)
        return Principal(
            key_id=key_id,
            tenant=record.tenant or self._default_tenant,
            workspaces=frozenset(record.workspaces),
            client=facts.client,
        )

    async def _lookup(self, key_id: str) -> ApiKeyRecord | None:
        found, record = self._lookups.get(key_id)
        if found:
            return record
        # Expired within the last TTL (a key in use): answer from it while one background
        # read refreshes it, so a slow read under load does not stall every request of
        # this key. Older answers wait for the read: a revocation takes effect within
        # two TTLs and one read, not at a key's first use after a long pause.
        found, record = self._lookups.get(key_id, stale_ok=True, stale_for_s=self._lookup_ttl_s)
        if found:
            if key_id not in self._refreshing:
                self._refreshing.add(key_id)
                task = asyncio.ensure_future(self._reload(key_id))
                self._touch_tasks.add(task)
                task.add_done_callback(self._touch_tasks.discard)
            return record
        # One read per key id however many requests carry it at once.
        try:
            record = await self._lookup_flights.run(key_id, lambda: self._keys.get(key_id))
        except DatabaseUnavailable:
            # Keys seen before keep working while the database is down.
            found, record = self._lookups.get(key_id, stale_ok=True)
            if not found:
                raise
            return record
        self._lookups.put(key_id, record)
        return record

    async def _reload(self, key_id: str) -> None:
        try:
            record = await self._lookup_flights.run(key_id, lambda: self._keys.get(key_id))
        except DatabaseUnavailable:
            return  # keys seen before keep working while the database is down
        else:
            self._lookups.put(key_id, record)
        finally:
            self._refreshing.discard(key_id)

    async def _touch(self, key_id: str) -> None:
        now = self._clock()
        if now - self._touched.get(key_id, -self._touch_interval_s) >= self._touch_interval_s:
            self._touched[key_id] = now
            # In the background: a write may wait on the database's lock, a request must not.
            task = asyncio.ensure_future(self._write_touch(key_id))
            self._touch_tasks.add(task)
            task.add_done_callback(self._touch_tasks.discard)

    async def _write_touch(self, key_id: str) -> None:
        with contextlib.suppress(DatabaseUnavailable):
            await self._keys.touch(key_id, at_ns=time.time_ns())

    def _deny(
        self,
        facts: RequestFacts,
        outcome: AuditOutcome,
        reason: str,
        *,
        principal: Principal | None = None,
        key_id: str | None = None,
    ) -> None:
        if self._audit is None:
            return
        self._audit.record(
            AuditEntry(
                at_ns=time.time_ns(),
                path=facts.path[:256],
                outcome=outcome,
                reason=reason,
                key_id=principal.key_id if principal else key_id,
                tenant=principal.tenant if principal else None,
                workspace_id=(facts.workspace_id or "")[:64] or None,
                request_id=facts.request_id,
            )
        )
