"""Template mining: a Drain-style miner that groups raw lines into templates.

Lines are masked (see `masking`), split into tokens and routed through a
fixed-depth prefix tree keyed by token count and the first tokens; in the leaf
the most similar cluster absorbs the line when at least `similarity` of its
positions agree, and the differing positions become `<*>`. An exact-match dict
from masked line to cluster skips the tree for the repeated shapes that make up
most of any log, which is where the speed comes from.

Template ids are a hash of the template text, so the same template has the same
id in every run and process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ailogs.analysis.masking import PLACEHOLDER, mask_line, shape_key, tokenize

DEFAULT_SIMILARITY = 0.5
DEFAULT_DEPTH = 1
DEFAULT_MAX_CHILDREN = 100
# Bound on the exact-match cache; when full it starts over, so memory stays
# flat however many distinct shapes a stream carries.
DEFAULT_CACHE_SIZE = 50_000


def template_id(template: str) -> str:
    """Stable 12-hex id of a template text (blake2b, not Python's salted hash)."""
    data = template.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """The template a line belongs to at the time it was seen."""

    template_id: str
    template: str


@dataclass(frozen=True, slots=True)
class Template:
    """A learned template and how many lines it absorbed."""

    id: str
    template: str
    count: int


class _Cluster:
    __slots__ = ("count", "match", "tokens")

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.count = 0
        self.match = _match_of(tokens)


def _remember(cache: dict[Any, _Cluster], key: Any, cluster: _Cluster, limit: int) -> None:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = cluster


def _match_of(tokens: list[str]) -> TemplateMatch:
    text = " ".join(tokens)
    return TemplateMatch(template_id(text), text)


class TemplateMiner:
    """Learns templates from lines, one at a time (`add`), or classifies (`match`)."""

    def __init__(
        self,
        *,
        similarity: float = DEFAULT_SIMILARITY,
        depth: int = DEFAULT_DEPTH,
        max_children: int = DEFAULT_MAX_CHILDREN,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if not 0.0 <= similarity <= 1.0:
            raise ValueError("similarity must be between 0 and 1")
        self.similarity = similarity
        self.depth = depth
        self.max_children = max_children
        self.cache_size = cache_size
        self._clusters: list[_Cluster] = []
        self._leaves: dict[tuple[str, ...], list[_Cluster]] = {}
        self._children: dict[tuple[str, ...], set[str]] = {}
        # Two exact-match caches in front of the tree: by shape key (no regex
        # at all) and by masked text (no tree search).
        self._by_shape: dict[bytes, _Cluster] = {}
        self._by_masked: dict[str, _Cluster] = {}

    def add(self, line: str) -> TemplateMatch:
        """Learn from one line; returns the template it belongs to now."""
        return self._add(line).match

    def _add(self, line: str) -> _Cluster:
        key = shape_key(line)
        cluster = self._by_shape.get(key)
        if cluster is None:
            masked = mask_line(line)
            cluster = self._by_masked.get(masked)
            if cluster is None:
                cluster = self._learn(tokenize(masked))
                _remember(self._by_masked, masked, cluster, self.cache_size)
            _remember(self._by_shape, key, cluster, self.cache_size)
        cluster.count += 1
        return cluster

    def match(self, line: str) -> TemplateMatch | None:
        """The template a line would join, without learning; None when none is similar."""
        masked = mask_line(line)
        cluster = self._by_masked.get(masked)
        if cluster is None:
            tokens = tokenize(masked)
            cluster = self._best(self._leaves.get(self._leaf_key(tokens, learn=False), []), tokens)
        return None if cluster is None else cluster.match

    def templates(self) -> list[Template]:
        """Every learned template, most frequent first."""
        found = [Template(c.match.template_id, c.match.template, c.count) for c in self._clusters]
        found.sort(key=lambda t: (-t.count, t.template))
        return found

    def _leaf_key(self, tokens: list[str], *, learn: bool) -> tuple[str, ...]:
        # Drain's tree: token count, then the first `depth` tokens; a token that
        # carries a placeholder, or one past `max_children` siblings, goes to `<*>`.
        key: tuple[str, ...] = (str(len(tokens)),)
        for token in tokens[: self.depth]:
            if PLACEHOLDER in token:
                key += (PLACEHOLDER,)
                continue
            siblings = self._children.setdefault(key, set())
            if token not in siblings:
                if not learn or len(siblings) >= self.max_children:
                    key += (PLACEHOLDER,)
                    continue
                siblings.add(token)
            key += (token,)
        return key

    def _learn(self, tokens: list[str]) -> _Cluster:
        leaf = self._leaves.setdefault(self._leaf_key(tokens, learn=True), [])
        cluster = self._best(leaf, tokens)
        if cluster is None:
            cluster = _Cluster(tokens)
            leaf.append(cluster)
            self._clusters.append(cluster)
            return cluster
        template = cluster.tokens
        if any(
            old != new and old != PLACEHOLDER for old, new in zip(template, tokens, strict=True)
        ):
            cluster.tokens = [
                old if old == new else PLACEHOLDER
                for old, new in zip(template, tokens, strict=True)
            ]
            cluster.match = _match_of(cluster.tokens)
        return cluster

    def _best(self, leaf: list[_Cluster], tokens: list[str]) -> _Cluster | None:
        if not tokens:
            return leaf[0] if leaf else None
        best: _Cluster | None = None
        best_score = (-1.0, -1)
        length = len(tokens)
        for cluster in leaf:
            same = 0
            params = 0
            for old, new in zip(cluster.tokens, tokens, strict=True):
                if old == PLACEHOLDER:
                    params += 1
                elif old == new:
                    same += 1
            score = (same / length, params)
            if score > best_score:
                best_score = score
                best = cluster
        if best is None or best_score[0] < self.similarity:
            return None
        return best


def mine_templates(
    lines: Iterable[str], *, similarity: float = DEFAULT_SIMILARITY
) -> list[tuple[str, str]]:
    """For each line, in order, the final (template id, template) of its cluster.

    Two passes: learn from every line, then report each line's cluster as it
    stands at the end, so lines seen before a template generalised still get
    the general template.
    """
    miner = TemplateMiner(similarity=similarity)
    # A line's cluster object is stable; only its template text generalises.
    clusters = [miner._add(line) for line in lines]
    return [(cluster.match.template_id, cluster.match.template) for cluster in clusters]
