# ruff: noqa: E501  (literal log lines and regexes read best unwrapped)
"""Masking: variable parts of raw lines become `<*>` before mining."""

from __future__ import annotations

import pytest

from ailogs.analysis.masking import mask_line, shape_key, tokenize


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
            "<*> LabSZ sshd[<*>]: Invalid user webmaster from <*>",
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


def test_pipes_separate_tokens() -> None:
    assert tokenize("<*>|Step_LSC|<*>|onStandStepChanged <*>") == [
        "<*>",
        "Step_LSC",
        "<*>",
        "onStandStepChanged",
        "<*>",
    ]
