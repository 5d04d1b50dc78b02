# ruff: noqa: E501  (literal log lines and regexes read best unwrapped)
"""Masking: variable parts of raw lines become `<*>` before mining."""

from __future__ import annotations

import os
import random

import pytest

from ailogs.analysis.masking import (
    NATIVE_SHAPE_KEYS,
    mask_line,
    python_shape_keys,
    shape_key,
    shape_keys,
    tokenize,
)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
            "blk_-1608999687919862906 terminating",
            "<*> INFO dfs.DataNode$PacketResponder: PacketResponder <*> for block <*> terminating",
        ),
        (
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            "<*> sshd[<*>]: Invalid user webmaster from <*>",
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "[<*>] [notice] workerEnv.init() ok <*>",
        ),
        ("uid=0 euid=0 tty=NODEVssh user=root", "uid=<*> euid=<*> tty=NODEVssh user=root"),
        ("took 125ms, retry in 2.5s", "took <*>, retry in <*>"),
        ("id 123e4567-e89b-12d3-a456-426614174000 done", "id <*> done"),
        ("fetch https://api.example.com/v1/chat?x=1 failed", "fetch <*> failed"),
        ("mail to ops@example.com bounced", "mail to <*> bounced"),
        ("list [1, 2, 3, 4] end", "list [<*>] end"),
        ("", ""),
        # A Java logger keeps its name; only the digit runs inside it vary.
        (
            "2021-03-04 10:11:12,345 INFO [main] org.example.grid.v3.core.Scheduler: Queue ready",
            "<*> INFO [main] org.example.grid.v<*>.core.Scheduler: Queue ready",
        ),
        # A host whose first label carries a digit is still a variable.
        ("route via web3.example.com and api.example.com", "route via <*> and api.example.com"),
    ],
)
def test_variables_are_masked_and_structure_is_kept(line: str, masked: str) -> None:
    assert mask_line(line) == masked


def test_lines_that_differ_only_in_digits_share_a_shape_key() -> None:
    assert shape_key("pid 12 port 8080") == shape_key("pid 4 port 22")
    assert shape_key("pid 12 port 8080") != shape_key("pid 12 host 8080")
    assert mask_line("Jun 14 15:16:01 x") == mask_line("Jun 1 5:06:01 x")


def test_ugly_input_never_crashes() -> None:
    for line in ["\x00\xff\udcff", "x" * 1_000_000, "\n\t", "\u2603 1"]:
        assert isinstance(mask_line(line), str)
        assert isinstance(shape_key(line), bytes)


def test_a_bracketed_context_in_the_header_becomes_one_placeholder() -> None:
    # Thread names of any word count mask alike, so an event logged from
    # several threads keeps one token count.
    one = "2021-03-04 10:11:12,345 WARN [Socket Listener thread 3] org.example.net.Acceptor: Queue full"
    two = "2021-03-04 10:11:13,001 WARN [housekeeper] org.example.net.Acceptor: Queue full"
    three = "2021-03-04 10:11:14,777 WARN [Timer-2 worker] org.example.net.Acceptor: Queue full"
    assert (
        mask_line(one) == mask_line(three) == "<*> WARN [<*>] org.example.net.Acceptor: Queue full"
    )
    assert mask_line(two) == "<*> WARN [housekeeper] org.example.net.Acceptor: Queue full"
    # Brackets in the message, after the component, are the message's own.
    assert (
        mask_line(
            "Mar  3 09:00:01 web7 sshd[812]: message repeated 3 times: [ Failed password for admin]"
        )
        == "<*> sshd[<*>]: message repeated <*> times: [ Failed password for admin]"
    )


def test_a_quoted_value_of_several_words_becomes_one_placeholder() -> None:
    two = 'acquire lock=51, tag="Screen Dim Lock", name=com.example.ui, uid=1000'
    one = 'acquire lock=52, tag="AlarmWake", name=com.example.ui, uid=1000'
    assert mask_line(two) == 'acquire lock=<*>, tag="<*>", name=com.example.ui, uid=<*>'
    assert len(mask_line(one).split()) == len(mask_line(two).split())
    # A quote that is not a key's value, or that never closes, stays as it is.
    assert mask_line('said "hello there" twice') == 'said "hello there" twice'
    assert mask_line('tag="open ended') == 'tag="open ended'


def test_a_syslog_host_is_a_variable_whatever_its_name() -> None:
    # One event from a host named with digits and one named without keeps
    # one shape: the host no longer folds into the date on some lines only.
    numbered = "Jul  4 07:23:41 build-10-2-3 kernel[0]: en0: link state changed"
    named = "Jul  4 07:23:47 buildbox kernel[0]: en0: link state changed"
    weekday = "Tue Jul  4 07:23:47 buildbox kernel[0]: en0: link state changed"
    assert mask_line(numbered) == mask_line(named) == mask_line(weekday)
    assert mask_line(named) == "<*> kernel[<*>]: <*> link state changed"
    # Only after a month, a day and a time: other lines keep their words.
    assert mask_line("Dec 10 noon buildbox started") == "<*> noon buildbox started"


def test_pipes_separate_tokens() -> None:
    assert tokenize("<*>|Step_LSC|<*>|onStandStepChanged <*>") == [
        "<*>",
        "Step_LSC",
        "<*>",
        "onStandStepChanged",
        "<*>",
    ]


def test_a_shape_key_masks_exactly_like_its_line() -> None:
    # Miners mask the key instead of the line; any difference would change templates.
    lines = [
        "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2",
        "[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] File does not exist: /var/www/a1",
        "03-17 16:13:38.811  1702  2395 V WindowManager: Skipping AppWindowToken{df0b1c3 token=Token{a3f}}",
        "2015-07-29 17:41:44,747 - INFO  [NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:Fac@197] - x 0x14ede63a5a70000",
        "a 1-/x/y b x=1dead, y 10Dec [Sun 0xff /a/b /c/1 //d u@1.com http://1.2.3.4/x 1e10 0x1F",
        "Jan  2 07:02:47 combo su(pam_unix)[2]: session opened for user  mike0 by (uid=0)",
        "\x00 tab\there\u2603 12\udcff",
        "ciod: Error loading /omega/beta.log: invalid, /a/b/part-00012: x /a/b:c /a/b://c /a/b:",
        "x /a/b: /a/b:: /a@b/c: /a/b-1: /a/b/:/c/d: /a/b;: /é/b: /a/b:",
        "2021-03-04 10:11:12,345 INFO [IPC handler 12 on 8020] org.ex.v2ab.x9f.Server: a.b.c1x2 ok",
        "[Mon Jan  2 07:02:47 2023] [error] [client 10.0.0.1] com.acme.x2.Y3e: fail _a.b.c2",
        "0 1 2 3 4 5 6 7 [a b] x: [c d]",
        "Mon Jan  2 07:02:47 myhost prog[1]: x",
        'x tag="a 1 b", y="c" z="d e" w="12 f"',
        "Mon 12 07:02:47 myhost prog[1]: x",
        "Jan  2 07:02:47 h1 p: y",
        "Jan 2 nohost",
        "",
    ]
    for keys in (shape_keys(lines), python_shape_keys(lines), [shape_key(line) for line in lines]):
        for line, key in zip(lines, keys, strict=True):
            assert mask_line(key.decode("utf-8", "surrogatepass")) == mask_line(line), line


def test_random_digit_and_punctuation_soup_keys_mask_like_their_lines() -> None:
    # Dense mixes of digits, hex letters and the punctuation the folds treat
    # specially, behind the date heads that get folded too.
    rng = random.Random(2024)
    alphabet = '0123456789 :.,/-abfxZ[]@=()_#"'
    heads = ["", "Dec ", "Sun Dec ", "[", "[Mon Jan  ", "Jan  "]
    lines = [
        rng.choice(heads) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        for _ in range(5000)
    ]
    for start in range(0, len(lines), 32):
        batch = lines[start : start + 32]
        for line, key in zip(batch, shape_keys(batch), strict=True):
            assert mask_line(key.decode("ascii")) == mask_line(line), line


def _soup(rng: random.Random, count: int) -> list[str]:
    # Everything the folds look at, and what they must leave alone: digits,
    # hex letters, `x`/`X`, date heads, paths with colons, newlines inside a
    # line, non-ASCII, lone surrogates.
    alphabet = "0123456789 :.,/-abfxXZ[]@=()_#%~+\n\t\u00e9\u2603\udcff"
    heads = ["", "Dec ", "Sun Dec ", "[", "[Mon Jan  ", "Jan  ", "Mon  Jan ", "Sept 1", "Mon"]
    words = ["", "Jan ", "Wed Feb ", " /a/b", " /a/b:", " /a1/b ", " //a/b", "http://x/1"]
    return [
        rng.choice(heads)
        + "".join(rng.choice(alphabet + "".join(words)) for _ in range(rng.randint(0, 30)))
        + rng.choice(words)
        for _ in range(count)
    ]


def test_native_shape_keys_equal_the_python_reference() -> None:
    # Without the native module both sides are the reference (see the CI test below).
    rng = random.Random(7)
    lines = [
        *_soup(rng, 20_000),
        "x" * 5000,
        "\u00e9" * 5000,
        "1" * 5000,
        "\udcff" * 4097,
        "",
        "\n",
        "[Jan 1",
        "0x1F 0X1F 1dead 12ab:cd",
    ]
    for start in range(0, len(lines), 32):
        batch = lines[start : start + 32]
        assert shape_keys(batch) == python_shape_keys(batch), batch
        assert shape_keys(batch) == [shape_key(line) for line in batch]


def test_native_shape_keys_refuse_what_is_not_a_line() -> None:
    with pytest.raises(TypeError):
        shape_keys([b"bytes"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        shape_keys(42)  # type: ignore[arg-type]


def test_the_native_module_is_built_in_ci() -> None:
    # Without a compiler the pure-Python keys serve; CI has one, so a silent
    # fallback there would hide a broken build (and halve mining throughput).
    if os.environ.get("CI") == "true":
        assert NATIVE_SHAPE_KEYS
