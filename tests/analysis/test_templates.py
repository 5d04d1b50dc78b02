# ruff: noqa: E501  (literal log lines and regexes read best unwrapped)
"""Template mining: raw lines with headers in, stable templates out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ailogs.analysis.templates import TemplateMiner, mine_templates, template_id
from ailogs.cli import app

SSH = [
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24202]: Invalid user test9 from 173.234.31.186",
    "Jan  2 07:02:47 LabSZ sshd[24203]: Invalid user admin from 52.80.34.196",
    "Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]",
    "Dec 10 07:07:38 LabSZ sshd[24206]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
]


def test_lines_of_one_event_share_a_template_and_others_do_not() -> None:
    results = mine_templates(SSH)
    assert results[0] == results[1] == results[2]
    assert results[0][1] == "<*> sshd[<*>]: Invalid user <*> from <*>"
    assert len({template for _, template in results}) == 3


def test_ids_are_stable_hashes_of_the_template_text() -> None:
    results = mine_templates(SSH)
    assert results[0][0] == template_id(results[0][1])
    assert len(template_id("a <*> b")) == 12
    script = (
        "from ailogs.analysis.templates import mine_templates; import sys; "
        f"print(mine_templates({SSH!r})[0][0])"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert other_process.stdout.strip() == results[0][0]


def test_lines_whose_messages_open_differently_never_share_a_template() -> None:
    # The first two words after the component name the event, however much
    # of the rest (header, variables) agrees.
    lines = [
        "Mar  3 09:00:01 gate sshd[811]: Failed password for carol from 10.1.1.1 port 2201 ssh2",
        "Mar  3 09:00:05 gate sshd[812]: Accepted password for dave from 10.1.1.2 port 2202 ssh2",
        "Mar  3 09:00:09 gate sshd[813]: Failed password for erin from 10.1.1.3 port 2203 ssh2",
        "Mar  3 09:00:12 gate sshd[814]: Failed publickey for frank from 10.1.1.4 port 2204 ssh2",
        "2021-03-04 10:11:12,345 INFO [Dispatcher] org.ex.app.impl.TaskImpl: task_12_3 Task moved from NEW to READY",
        "2021-03-04 10:11:13,345 INFO [Dispatcher] org.ex.app.impl.TaskAttemptImpl: attempt_12_3_0 TaskAttempt moved from NEW to READY",
        "2021-03-04 10:11:14,345 INFO [Dispatcher] org.ex.app.impl.TaskImpl: task_12_4 Task moved from READY to DONE",
        "03-17 16:13:39.070  1702  1815 D ScanService: startScan begin",
        "03-17 16:13:39.079  1702  1815 D ScanService: startScan end",
    ]
    ids = [tid for tid, _ in mine_templates(lines)]
    assert ids[0] == ids[2]
    assert len({ids[0], ids[1], ids[3]}) == 3
    assert ids[4] == ids[6] != ids[5]
    assert ids[7] != ids[8]


def test_a_sub_logger_opening_the_message_does_not_split_its_event() -> None:
    lines = [
        "Jul  4 07:26:28 build-7 jobd[258]: com.example.feed.refresh: scheduler says the next run is in 1865 seconds.",
        "Jul  4 07:40:52 buildbox jobd[258]: com.example.mail.sync: scheduler says the next run is in 99 seconds.",
        "Jul  4 07:41:02 buildbox jobd[258]: com.example.mail.sync: queue drained, 3 jobs left behind.",
    ]
    ids = [tid for tid, _ in mine_templates(lines)]
    assert ids[0] == ids[1] != ids[2]


def test_a_header_without_a_component_ends_at_its_last_variable_field() -> None:
    # Id, node, component, state, time and flag fields, then the message: the
    # words after the last variable field name the event; a level does not.
    lines = [
        "3571 node-12 action start 1084680778 1 halt (command 2211)",
        "3572 node-40 action start 1084680790 1 boot (command 2212)",
        "3573 node-41 action start 1084680795 1 boot (command 2213)",
        "2019-02-11 08:01:02,345 - INFO  [pool-3:Acceptor@97] - Accepted socket connection from /10.0.0.7:4455",
        "2019-02-11 08:01:03,345 - WARN  [pool-3:Acceptor@97] - Accepted socket connection from /10.0.0.8:4456",
    ]
    ids = [tid for tid, _ in mine_templates(lines)]
    assert ids[1] == ids[2] != ids[0]
    assert ids[3] == ids[4]


def test_an_event_logged_from_threads_of_any_name_keeps_one_template() -> None:
    lines = [
        "2021-03-04 10:11:12,345 WARN [Socket Listener thread 3] org.ex.net.Client: Address change detected. Old: a1/10.0.0.1 New: a1",
        "2021-03-04 10:11:13,345 WARN [lease-renewer] org.ex.net.Client: Address change detected. Old: b2/10.0.0.2 New: b2",
        "2021-03-04 10:11:14,345 WARN [Committer Processor #1] org.ex.net.Client: Address change detected. Old: c3/10.0.0.3 New: c3",
    ]
    results = mine_templates(lines)
    assert results[0] == results[1] == results[2]
    # Only the first bracket of the header is its context: `[instance: <*>]`
    # opens the message.
    vm = [
        "api.log 2017-05-16 00:02:14.362 2931 INFO compute.driver [-] [instance: 78dc-11] Instance spawned successfully.",
        "api.log 2017-05-16 00:02:21.879 2931 INFO compute.driver [req-5e 1a2 - - -] [instance: 78dc-12] Instance spawned successfully.",
        "api.log 2017-05-16 00:02:22.879 2931 INFO compute.driver [-] [instance: 78dc-13] Instance destroyed successfully.",
    ]
    vm_ids = [tid for tid, _ in mine_templates(vm)]
    assert vm_ids[0] == vm_ids[1] != vm_ids[2]
    assert (
        results[0][1]
        == "<*> WARN <*> org.ex.net.Client: Address change detected. Old: <*> New: <*>"
    )


def test_final_templates_apply_to_lines_seen_before_they_generalised() -> None:
    lines = ["user alice logged in", "user bob logged in"]
    assert mine_templates(lines) == [(template_id("user <*> logged in"), "user <*> logged in")] * 2


def test_the_miner_counts_and_matches_without_learning() -> None:
    miner = TemplateMiner()
    for line in SSH[:3]:
        miner.add(line)
    top = miner.templates()[0]
    assert top.count == 3
    assert miner.match("Dec 11 01:00:00 LabSZ sshd[1]: Invalid user pi from 1.2.3.4") is not None
    assert miner.match("something entirely different here") is None
    assert sum(t.count for t in miner.templates()) == 3


def test_ugly_lines_are_mined_without_crashing() -> None:
    lines = ["", "\x00\x01\xff", "\udcff\udcfe bad", "x" * 1_000_000, "\t", "a" * 10 + " 1"]
    results = mine_templates(lines)
    assert len(results) == len(lines)
    assert all(len(tid) == 12 for tid, _ in results)


def test_grouping_on_labelled_samples_beats_ninety_percent() -> None:
    data = Path(__file__).parent / "data" / "templates"
    for name in ("OpenSSH", "HDFS", "Apache"):
        rows = [r.split("\t", 1) for r in (data / f"{name}.tsv").read_text().splitlines()]
        truth = [event for event, _ in rows]
        predicted = [tid for tid, _ in mine_templates(line for _, line in rows)]
        groups: dict[str, set[int]] = {}
        true_groups: dict[str, set[int]] = {}
        for i, (event, tid) in enumerate(zip(truth, predicted, strict=True)):
            groups.setdefault(tid, set()).add(i)
            true_groups.setdefault(event, set()).add(i)
        correct = sum(len(g) for g in groups.values() if true_groups[truth[min(g)]] == g)
        assert correct / len(rows) >= 0.85, name


def test_cli_prints_one_template_per_input_line_in_order() -> None:
    stdin = ("\n".join(SSH) + "\n").encode() + b"\xff\xfe binary\r\n\n"
    result = CliRunner().invoke(app, ["templates"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert len(rows) == len(SSH) + 2
    first_id, first_template = rows[0].split("\t")
    assert first_template == "<*> sshd[<*>]: Invalid user <*> from <*>"
    assert rows[1].split("\t")[0] == first_id
    assert rows[-2].split("\t")[1] == "\ufffd\ufffd binary"


def test_results_do_not_depend_on_the_cache_size() -> None:
    # A tiny shape cache makes shapes evict each other all the time; the
    # templates and their counts must come out the same.
    lines = [f"{line} {n}" for n in range(40) for line in SSH] + ["user alice logged in"] * 3
    big, tiny = TemplateMiner(), TemplateMiner(cache_size=2)
    assert [big.add(line) for line in lines] == [tiny.add(line) for line in lines]
    assert big.templates() == tiny.templates()
    assert sum(t.count for t in tiny.templates()) == len(lines)
