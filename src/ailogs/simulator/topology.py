"""The simulated system: services, the call graph of each route, regions and models.

Data only. The generator walks a route's call tree, so a failure in a callee is
visible to every caller above it (that is how a cascade climbs the graph).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Call:
    """One hop of a route: `service` handles `endpoint`, then calls `children` in order."""

    service: str
    endpoint: str
    base_ms: float
    children: tuple[Call, ...] = ()
    llm: str | None = None  # an LLM operation this hop performs: chat, embeddings, ...


@dataclass(frozen=True, slots=True)
class Route:
    """A kind of request entering at the gateway."""

    name: str
    weight: float
    root: Call


@dataclass(frozen=True, slots=True)
class Region:
    """Where a request is served; latency scales with distance from the models."""

    name: str
    weight: float
    latency_factor: float


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Latency and token shape of one model."""

    name: str
    provider: str
    weight: float
    ms_per_output_token: float
    ttft_ms: float
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    context_limit: int


@dataclass(frozen=True, slots=True)
class Topology:
    """Everything the generator needs to know about the simulated system."""

    routes: tuple[Route, ...]
    regions: tuple[Region, ...]
    models: tuple[ModelProfile, ...]
    workspaces: tuple[str, ...]
    embedding_model: ModelProfile

    def all_services(self) -> tuple[str, ...]:
        """Every service that appears in some route, in first-seen order."""
        seen: dict[str, None] = {}

        def walk(call: Call) -> None:
            seen.setdefault(call.service, None)
            for child in call.children:
                walk(child)

        for route in self.routes:
            walk(route.root)
        return tuple(seen)


_AUTH = Call("auth", "POST /v1/token/verify", 6.0)

CHECKOUT = Route(
    "checkout",
    0.35,
    Call(
        "api-gateway",
        "POST /api/checkout",
        4.0,
        (
            _AUTH,
            Call(
                "orders",
                "POST /orders",
                18.0,
                (
                    Call("inventory", "POST /inventory/reserve", 12.0),
                    Call("payments", "POST /payments/charge", 45.0),
                ),
            ),
        ),
    ),
)

BROWSE = Route(
    "browse",
    0.30,
    Call(
        "api-gateway",
        "GET /api/products",
        3.0,
        (Call("inventory", "GET /inventory/items", 9.0),),
    ),
)

ASSISTANT = Route(
    "assistant",
    0.35,
    Call(
        "api-gateway",
        "POST /api/assistant/chat",
        4.0,
        (
            _AUTH,
            Call(
                "llm-proxy",
                "POST /v1/chat/completions",
                8.0,
                (Call("search", "POST /search/similar", 14.0, llm="embeddings"),),
                llm="chat",
            ),
        ),
    ),
)

DEFAULT_TOPOLOGY = Topology(
    routes=(CHECKOUT, BROWSE, ASSISTANT),
    regions=(
        Region("us-east-1", 0.5, 1.0),
        Region("eu-west-1", 0.3, 1.35),
        Region("ap-south-1", 0.2, 1.9),
    ),
    models=(
        ModelProfile("gpt-4o", "openai", 0.35, 14.0, 380.0, (300, 2400), (60, 700), 128_000),
        ModelProfile("gpt-4o-mini", "openai", 0.30, 7.0, 220.0, (200, 1800), (40, 500), 128_000),
        ModelProfile(
            "claude-sonnet-4", "anthropic", 0.25, 12.0, 450.0, (400, 3000), (80, 900), 200_000
        ),
        ModelProfile("llama-3.1-70b", "vllm", 0.10, 20.0, 600.0, (200, 1500), (40, 400), 8_192),
    ),
    embedding_model=ModelProfile(
        "text-embedding-3-small", "openai", 1.0, 0.0, 0.0, (20, 400), (0, 0), 8_192
    ),
    workspaces=("ws-acme", "ws-globex", "ws-initech", "ws-umbrella", "ws-hooli"),
)
