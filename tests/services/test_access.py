"""The door: keys, workspaces, rate limits and the audit of every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ailogs.errors import DatabaseUnavailable, Forbidden, RateLimited, Unauthorized
from ailogs.ratelimit import InMemoryRateLimiter, RatePolicy
from ailogs.services.access import AccessControl, RequestFacts
from ailogs.services.api_keys import (
    ApiKeyRecord,
    InMemoryApiKeyRepository,
    issue_key,
    secret_matches,
    split_token,
)
from ailogs.services.audit import AuditEntry, AuditRecorder
from ailogs.store.enums import AuditOutcome


class DenialList:
    """An audit sink that keeps what it was given."""

    def __init__(self) -> None:
        self.rows: list[AuditEntry] = []

    async def __call__(self, batch: Sequence[AuditEntry]) -> None:
        self.rows.extend(batch)


async def make_key(
    repo: InMemoryApiKeyRepository, *, tenant: str | None = "acme", workspaces: Sequence[str] = ()
) -> str:
    issued = issue_key()
    record = ApiKeyRecord(issued.key_id, "agent", issued.key_hash, tenant, tuple(workspaces), 1)
    await repo.add(record)
    return issued.token


def door(
    repo: InMemoryApiKeyRepository, sink: DenialList, *, burst: int = 100
) -> tuple[AccessControl, AuditRecorder]:
    recorder = AuditRecorder(sink)
    control = AccessControl(
        keys=repo,
        limiter=InMemoryRateLimiter(RatePolicy(rate_per_s=0.001, burst=burst)),
        audit=recorder,
        default_tenant="default",
        lookup_ttl_s=0.0,
    )
    return control, recorder


def facts(token: str | None = None, workspace: str | None = None) -> RequestFacts:
    header = f"Bearer {token}" if token else None
    return RequestFacts("/api/v1/ai_logs/query", "10.0.0.7", header, workspace, "req-1")


def test_a_token_splits_into_id_and_secret_and_only_the_hash_matches() -> None:
    issued = issue_key()
    parts = split_token(issued.token)
    assert parts is not None
    key_id, secret = parts
    assert key_id == issued.key_id
    assert secret not in issued.key_hash
    assert secret_matches(secret, issued.key_hash)
    assert not secret_matches(secret + "x", issued.key_hash)


@pytest.mark.parametrize(
    "token", ["", "ailk_", "ailk_abc_def", "bearer", "ailk_0123456789ab_", "x" * 500]
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    assert split_token(token) is None


async def test_without_keys_the_door_is_open_with_the_default_tenant() -> None:
    control, _ = door(InMemoryApiKeyRepository(), DenialList())

    admission = await control.admit(facts())

    assert admission.principal.anonymous
    assert admission.principal.tenant == "default"
    assert admission.principal.rate_key == "addr:10.0.0.7"


async def test_a_valid_key_carries_its_tenant() -> None:
    repo = InMemoryApiKeyRepository()
    token = await make_key(repo, tenant="acme")
    control, _ = door(repo, DenialList())

    principal = (await control.admit(facts(token))).principal

    assert principal.tenant == "acme"
    assert principal.rate_key == f"key:{principal.key_id}"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing API key"),
        ("Basic dXNlcjpwdw==", "authorization is not a bearer token"),
        ("Bearer nonsense", "malformed API key"),
        ("Bearer ailk_0123456789ab_wrongsecret", "unknown key or wrong secret"),
    ],
)
async def test_bad_keys_are_401_and_audited_without_the_key(
    header: str | None, reason: str
) -> None:
    repo = InMemoryApiKeyRepository()
    await make_key(repo)
    sink = DenialList()
    control, recorder = door(repo, sink)

    with pytest.raises(Unauthorized):
        await control.admit(RequestFacts("/api/v1/ai_logs/query", "1.2.3.4", header))
    await recorder.flush()

    assert [(d.outcome, d.reason, d.path) for d in sink.rows] == [
        (AuditOutcome.BAD_KEY, reason, "/api/v1/ai_logs/query")
    ]
    assert "wrongsecret" not in repr(sink.rows)


async def test_a_revoked_key_is_refused() -> None:
    repo = InMemoryApiKeyRepository()
    token = await make_key(repo)
    await make_key(repo)  # another key keeps the server closed
    control, _ = door(repo, DenialList())
    key_id = (await control.admit(facts(token))).principal.key_id or ""

    assert await repo.revoke(key_id, at_ns=2)
    control.forget_cached_keys()

    with pytest.raises(Unauthorized, match="revoked"):
        await control.admit(facts(token))


async def test_a_workspace_outside_the_key_is_403_and_audited() -> None:
    repo = InMemoryApiKeyRepository()
    token = await make_key(repo, workspaces=["ws-1", "ws-2"])
    sink = DenialList()
    control, recorder = door(repo, sink)

    assert (await control.admit(facts(token, "ws-2"))).principal.may_read("ws-2")
    with pytest.raises(Forbidden):
        await control.admit(facts(token, "ws-9"))
    with pytest.raises(Forbidden, match="name one"):
        await control.admit(facts(token, None))
    await recorder.flush()

    assert [d.outcome for d in sink.rows] == [AuditOutcome.WRONG_WORKSPACE] * 2
    assert sink.rows[0].key_id is not None
    assert sink.rows[0].workspace_id == "ws-9"


async def test_past_the_burst_a_key_is_429_with_retry_after_and_audited() -> None:
    repo = InMemoryApiKeyRepository()
    token = await make_key(repo)
    sink = DenialList()
    control, recorder = door(repo, sink, burst=2)

    await control.admit(facts(token))
    await control.admit(facts(token))
    with pytest.raises(RateLimited) as refused:
        await control.admit(facts(token))
    await recorder.flush()

    assert int(refused.value.headers["Retry-After"]) >= 1
    assert [d.outcome for d in sink.rows] == [AuditOutcome.RATE_LIMITED]


async def test_a_full_audit_queue_drops_and_counts_instead_of_blocking() -> None:
    sink = DenialList()
    recorder = AuditRecorder(sink, max_queue=2)
    for _ in range(5):
        recorder.record(AuditEntry(1, "/p", AuditOutcome.BAD_KEY, "missing API key"))
    await recorder.aclose()

    assert (len(sink.rows), recorder.dropped, recorder.written) == (2, 3, 2)


async def test_the_background_writer_flushes_on_its_own() -> None:
    sink = DenialList()
    recorder = AuditRecorder(sink, flush_interval_s=0.01)
    recorder.start()
    recorder.record(AuditEntry(1, "/p", AuditOutcome.BAD_KEY, "missing API key"))
    for _ in range(100):
        if sink.rows:
            break
        await asyncio.sleep(0.01)
    await recorder.aclose()

    assert len(sink.rows) == 1


class GatedRepository(InMemoryApiKeyRepository):
    """Reads wait for `gate` and are counted, like a database that is slow under load."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.reads = 0

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        self.reads += 1
        await self.gate.wait()
        return await super().get(key_id)

    async def count_active(self) -> int:
        self.reads += 1
        await self.gate.wait()
        return await super().count_active()


async def test_expired_lookups_answer_at_once_and_one_background_read_refreshes_them() -> None:
    repo = GatedRepository()
    token = await make_key(repo)
    await make_key(repo)  # another key keeps the server closed
    now = [0.0]
    control = AccessControl(
        keys=repo, limiter=None, audit=None, default_tenant=None, clock=lambda: now[0]
    )
    key_id = (await control.admit(facts(token))).principal.key_id or ""
    assert await repo.revoke(key_id, at_ns=2)
    reads_before = repo.reads

    now[0] = 9.0  # count and lookup expired within one TTL (5 s); the database is slow now
    repo.gate.clear()
    admitted = await asyncio.wait_for(
        asyncio.gather(*(control.admit(facts(token)) for _ in range(50))), timeout=1.0
    )
    assert {a.principal.key_id for a in admitted} == {key_id}  # the last answer, not a stall
    repo.gate.set()
    for _ in range(5):
        await asyncio.sleep(0)

    assert repo.reads - reads_before == 2  # one count and one lookup for 50 requests
    with pytest.raises(Unauthorized, match="revoked"):
        await control.admit(facts(token))  # the refreshed lookup applies the revocation


async def test_a_key_revoked_during_a_long_pause_is_refused_at_its_next_use() -> None:
    repo = GatedRepository()
    token = await make_key(repo)
    await make_key(repo)
    now = [0.0]
    control = AccessControl(
        keys=repo, limiter=None, audit=None, default_tenant=None, clock=lambda: now[0]
    )
    key_id = (await control.admit(facts(token))).principal.key_id or ""
    assert await repo.revoke(key_id, at_ns=2)

    now[0] = 3600.0  # an hour later: the cached answer is far too old to trust
    with pytest.raises(Unauthorized, match="revoked"):
        await control.admit(facts(token))


async def test_a_long_expired_key_still_works_while_the_database_is_down() -> None:
    repo = GatedRepository()
    token = await make_key(repo)
    now = [0.0]
    control = AccessControl(
        keys=repo, limiter=None, audit=None, default_tenant=None, clock=lambda: now[0]
    )
    key_id = (await control.admit(facts(token))).principal.key_id

    async def down(key_id: str) -> ApiKeyRecord | None:
        raise DatabaseUnavailable("down")

    repo.get = down  # type: ignore[method-assign]
    now[0] = 3600.0
    assert (await control.admit(facts(token))).principal.key_id == key_id
