"""Template mining: a Drain-style miner that groups raw lines into templates.

Lines are masked (see `masking`), split into tokens and routed through a
fixed-depth prefix tree keyed by token count, the first tokens and the first
two words of the message after the header's component (`message_head`, as
Drain keys on a message's first tokens: they name the event); in the leaf
the most similar cluster absorbs the line when at least `similarity` of its
positions agree, and the differing positions become `<*>`. An exact-match dict
from masked line to cluster skips the tree for the repeated shapes that make up
most of any log, which is where the speed comes from.

Template ids are a hash of the template text, so the same template has the same
id in every run and process.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from ailogs.analysis.masking import (
    HEADER_TOKENS,
    PLACEHOLDER,
    finish_mask,
    has_letter,
    is_component,
    mask_line,
    mask_token,
    shape_keys,
    tokenize,
)

DEFAULT_SIMILARITY = 0.5
DEFAULT_DEPTH = 1
DEFAULT_MAX_CHILDREN = 100
# Slots of the shape cache (rounded up to a power of two). The caches are
# tables of 64-bit hashes in flat arrays: no key objects are kept, so 4096
# slots cost 32 kB however many shapes a stream carries.
DEFAULT_CACHE_SIZE = 4096
# Token masks remembered per miner (a dict from shape token to its mask); the
# dict is emptied when full, so memory stays bounded on any stream. It serves
# only lines whose shape missed the cache; 64 seats keep the miner's peak
# (with the message-head tree) under drain3's.
TOKEN_CACHE_SIZE = 64
# Tokens longer than this that mask to a bare `<*>` (hex ids, UUIDs, block ids)
# are not remembered: they rarely come back and cost nothing to mask again.
_SHORT_TOKEN = 12
# Low bits of a cache word that hold a cluster number (see `_HashCache`).
_NUMBER_BITS = 20
_NUMBER_MASK = (1 << _NUMBER_BITS) - 1
# Words of a message's head that route it in the tree (see `message_head`).
_HEAD_WORDS = 2
# Log levels, as headers spell them, which a message start skips.
_LEVELS = frozenset(
    "TRACE DEBUG INFO NOTICE WARN WARNING ERROR SEVERE CRITICAL FATAL "
    "Trace Debug Info Notice Warn Warning Error Severe Critical Fatal".split()
)
# A dotted logger name ending in a colon (`com.apple.icloud.fmfd.heartbeat:`):
# opening a message right after the component, it names a sub-logger, not
# the event, so the head starts after it.
_SUBLOGGER = re.compile(r"[A-Za-z][\w$]*(?:\.[\w$]+)+:")
# Lines handled per batch by `add_batch` callers such as `mine_templates`.
BATCH_LINES = 32


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


def message_head(tokens: Sequence[str]) -> str | None:
    """The first two words of the message, which name its event.

    The message follows the header's component: the first `name:` token among
    the first `HEADER_TOKENS` (`sshd[<*>]:`, `WindowManager:`). A header without
    one (`<*> action start <*> boot (command <*>)`) ends at its last bare
    placeholder among those tokens, and a log level after it is still header.
    Tokens without a letter (`<*>`, `<*>]`) and a leading dotted sub-logger
    (`com.apple.cts[<*>]: com.apple.x.y: ...`) are skipped, and a word stops at
    its first placeholder, so `TaskImpl: task_<*> Task Transitioned` opens with
    `task_ Task`. None when no message start is found or nothing follows it.
    """
    start = None
    levels: frozenset[str] = frozenset()
    for position, token in enumerate(tokens[:HEADER_TOKENS]):
        if is_component(token):
            start = position
            levels = frozenset()
            break
        if token == PLACEHOLDER:
            start = position
            levels = _LEVELS
    if start is None:
        return None
    words: list[str] = []
    for word in islice(tokens, start + 1, None):
        if has_letter(word) and word.strip("[]():") not in levels:
            if words or not _SUBLOGGER.fullmatch(word):
                words.append(word)
                if len(words) == _HEAD_WORDS:
                    break
    return " ".join(word.split(PLACEHOLDER, 1)[0] for word in words) if words else None


class _Cluster:
    __slots__ = ("index", "match")

    def __init__(self, tokens: list[str], index: int) -> None:
        self.index = index
        self.match = _match_of(tokens)

    @property
    def tokens(self) -> list[str]:
        # Split again when needed (only while learning) rather than kept: the
        # template text is the one copy a cluster holds.
        return self.match.template.split(" ") if self.match.template else []


class _HashCache:
    """Table from a 64-bit hash to a cluster number, two slots per key.

    One signed 64-bit word per slot: the key's hash with its low `_NUMBER_BITS`
    XORed with the cluster's number (its index + 1, so an empty slot, 0, holds
    none). A lookup XORs the word with the hash: when the high bits agree what
    is left is the number. The high 44 bits are checked, so a wrong hit needs a
    44-bit clash between two live shapes. A key lives in its home slot or, once
    displaced by a newer key, in the slot next to it (`get` moves it back home),
    so two shapes sharing a home do not evict each other.
    """

    __slots__ = ("mask", "table")

    def __init__(self, size: int) -> None:
        # At least two slots: a key may live next door to its home.
        slots = 1 << min(_NUMBER_BITS, max(1, size - 1).bit_length())
        self.mask = slots - 1
        self.table = array("q", [0]) * slots

    def get(self, key: int) -> int:
        """The cluster index stored for `key`, or -1."""
        table = self.table
        home = key & self.mask
        number = table[home] ^ key
        if 0 < number <= _NUMBER_MASK:
            return number - 1
        number = table[home ^ 1] ^ key
        if 0 < number <= _NUMBER_MASK:
            table[home ^ 1] = table[home]
            table[home] = number ^ key
            return number - 1
        return -1

    def put(self, key: int, index: int) -> None:
        """Remember `index` for `key` at home; the home's last key moves next door."""
        if index < _NUMBER_MASK - 1:
            home = key & self.mask
            self.table[home ^ 1] = self.table[home]
            self.table[home] = key ^ (index + 1)


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
        # Matches by cluster number (index + 1), as the caches store them; 0 is
        # unused. Kept in step with each cluster's `match`.
        self._matches: list[TemplateMatch] = [TemplateMatch("", "")]
        self._counts: Counter[int] = Counter()
        self._leaves: dict[tuple[str, ...], list[_Cluster]] = {}
        self._children: dict[tuple[str, ...], set[str]] = {}
        # Two exact-match caches in front of the tree: by shape key (no regex
        # at all) and by masked text (no tree search). Both are keyed by hash
        # only; a 64-bit clash between two live shapes is vanishingly rare.
        self._by_shape = _HashCache(cache_size)
        # Masked-text hits are rarer (the shape cache takes most), so a
        # quarter of the slots does.
        self._by_masked = _HashCache(max(1, cache_size // 4))
        self._token_masks: dict[str, str] = {}
        self._token_evictions = 0

    def add(self, line: str) -> TemplateMatch:
        """Learn from one line; returns the template it belongs to now."""
        return self._matches[self._add_batch([line])[0]]

    def add_batch(self, lines: Sequence[str]) -> list[TemplateMatch]:
        """Learn from many lines at once (faster than `add` per line); one match per line."""
        return list(map(self._matches.__getitem__, self._add_batch(lines)))

    def _add_batch(self, lines: Sequence[str]) -> list[int]:
        # Each line's cluster number, found for the whole batch at C speed:
        # one probe of the shape cache's home slot per line. Only the lines
        # that miss (a new shape, or one displaced) take the slow path.
        keys = shape_keys(lines)
        digests = list(map(hash, keys))
        table = self._by_shape.table
        mask = self._by_shape.mask
        numbers = [table[digest & mask] ^ digest for digest in digests]
        top = len(self._matches) - 1
        if numbers and not (min(numbers) > 0 and max(numbers) <= top):
            for position, number in enumerate(numbers):
                if not 0 < number <= top:
                    numbers[position] = self._add_shaped(keys[position], digests[position]) + 1
                    top = len(self._matches) - 1
        self._counts.update(numbers)
        return numbers

    def _add_shaped(self, key: bytes, digest: int) -> int:
        # An earlier line of the batch may have brought the shape in already.
        index = self._by_shape.get(digest)
        if index >= 0:
            return index
        # The shape key masks exactly like its line (see `masking.shape_key`).
        masked = self._mask(key.decode("utf-8", "surrogatepass"))
        masked_digest = hash(masked)
        index = self._by_masked.get(masked_digest)
        if index < 0:
            index = self._learn(tokenize(masked))
            self._by_masked.put(masked_digest, index)
        self._by_shape.put(digest, index)
        return index

    def _mask(self, text: str) -> str:
        tokens = text.split()
        masked = list(map(self._token_masks.get, tokens))
        if None in masked:
            for position, token in enumerate(tokens):
                if masked[position] is None:
                    masked[position] = self._mask_token(token)
        return finish_mask(tokens, masked)  # type: ignore[arg-type]

    def _mask_token(self, token: str) -> str:
        masked = mask_token(token)
        if masked is PLACEHOLDER and len(token) > _SHORT_TOKEN:
            return masked
        cache = self._token_masks
        if len(cache) >= TOKEN_CACHE_SIZE:
            # Evict the newest entry: the tokens that came first, which are
            # the frequent ones, stay; a rare token takes the last seat. Every
            # so often start afresh so a changed stream gets its own seats.
            self._token_evictions += 1
            if self._token_evictions >= TOKEN_CACHE_SIZE * 16:
                self._token_evictions = 0
                cache.clear()
            else:
                cache.popitem()
        cache[token] = masked
        return masked

    def match(self, line: str) -> TemplateMatch | None:
        """The template a line would join, without learning; None when none is similar."""
        masked = mask_line(line)
        index = self._by_masked.get(hash(masked))
        cluster = None if index < 0 else self._clusters[index]
        if cluster is None:
            tokens = tokenize(masked)
            cluster = self._best(self._leaves.get(self._leaf_key(tokens, learn=False), []), tokens)
        return None if cluster is None else cluster.match

    def templates(self) -> list[Template]:
        """Every learned template, most frequent first."""
        counts = self._counts
        found = [
            Template(c.match.template_id, c.match.template, counts[c.index + 1])
            for c in self._clusters
        ]
        found.sort(key=lambda t: (-t.count, t.template))
        return found

    def _leaf_key(self, tokens: list[str], *, learn: bool) -> tuple[str, ...]:
        # Drain's tree: token count, the first `depth` tokens, then the message's
        # head; a token that carries a placeholder, a line without a head, or a
        # value past `max_children` siblings goes to `<*>`.
        key: tuple[str, ...] = (str(len(tokens)),)
        for token in [*tokens[: self.depth], message_head(tokens)]:
            if token is None or PLACEHOLDER in token:
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

    def _learn(self, tokens: list[str]) -> int:
        leaf = self._leaves.setdefault(self._leaf_key(tokens, learn=True), [])
        cluster = self._best(leaf, tokens)
        if cluster is None:
            cluster = _Cluster(tokens, len(self._clusters))
            leaf.append(cluster)
            self._clusters.append(cluster)
            self._matches.append(cluster.match)
            return cluster.index
        template = cluster.tokens
        if any(
            old != new and old != PLACEHOLDER for old, new in zip(template, tokens, strict=True)
        ):
            cluster.match = self._matches[cluster.index + 1] = _match_of(
                [
                    old if old == new else PLACEHOLDER
                    for old, new in zip(template, tokens, strict=True)
                ]
            )
        return cluster.index

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
    # A line's cluster number is stable; only its template text generalises.
    numbers: list[int] = []
    source = iter(lines)
    while batch := list(islice(source, BATCH_LINES)):
        numbers += miner._add_batch(batch)
    final = [(match.template_id, match.template) for match in miner._matches]
    return list(map(final.__getitem__, numbers))
