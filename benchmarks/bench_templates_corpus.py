# ruff: noqa: E501  (literal log lines and regexes read best unwrapped)
"""Labelled log lines in the style of the Loghub 2k datasets, headers included.

Each system has a header generator and a list of true event templates whose
`{slots}` are filled with realistic variables — numbers, ids and addresses, but
also user names, host names, class names and states that carry no digit, so a
miner cannot win by masking digits alone. The same generator feeds the accuracy
samples (written to tests/analysis/data/templates/) and the throughput corpus.

Run `python benchmarks/bench_templates_corpus.py` to rewrite the samples.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Rng = random.Random

USERS = [
    "root",
    "admin",
    "test",
    "oracle",
    "guest",
    "webmaster",
    "ubuntu",
    "pi",
    "ftpuser",
    "git",
    "postgres",
    "nagios",
    "support",
    "user",
    "mysql",
    "deploy",
    "jenkins",
    "hadoop",
]
HOSTS = [
    "ns.example-hosting.com",
    "mail.corp.cn",
    "static.vnpt.vn",
    "host.knet.org",
    "dynamic.isp.net",
    "server.lan",
    "gw.unicom.cn",
    "proxy.cse.cuhk.edu.hk",
]
APPS = ["chrome.exe", "firefox.exe", "Dropbox.exe", "outlook.exe", "QQ.exe", "svchost.exe"]
STATES = ["RUNNING", "SUCCEEDED", "FAILED", "KILLED", "NEW", "SCHEDULED", "UNASSIGNED", "ASSIGNED"]
PKGS = [
    "com.android.systemui",
    "com.tencent.mm",
    "com.google.android.gms",
    "android",
    "com.android.phone",
    "com.whatsapp",
]
ACTIVITIES = ["MainActivity", "LauncherActivity", "SettingsActivity", "ChatActivity"]
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]


def _num(rng: Rng) -> str:
    return str(rng.choice([rng.randint(0, 9), rng.randint(10, 999), rng.randint(1000, 10**6)]))


def _ip(rng: Rng) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _hex(rng: Rng, size: int = 8) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(size))


VARS: dict[str, Callable[[Rng], str]] = {
    "n": _num,
    "small": lambda r: str(r.randint(0, 9)),
    "ip": _ip,
    "port": lambda r: str(r.randint(1024, 65535)),
    "ipport": lambda r: f"{_ip(r)}:{r.randint(1024, 65535)}",
    "blk": lambda r: f"blk_{r.choice(['-', ''])}{r.randint(10**17, 10**19)}",
    "user": lambda r: r.choice(USERS),
    "host": lambda r: r.choice(HOSTS),
    "app": lambda r: r.choice(APPS),
    "state": lambda r: r.choice(STATES),
    "pkg": lambda r: r.choice(PKGS),
    "activity": lambda r: r.choice(ACTIVITIES),
    "word": lambda r: r.choice(WORDS),
    "hex": _hex,
    "uuid": lambda r: f"{_hex(r)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)}",
    "path": lambda r: (
        "/"
        + "/".join(r.choice(WORDS) for _ in range(r.randint(2, 4)))
        + r.choice(["", ".log", f"/part-{r.randint(0, 999):05d}"])
    ),
    "float": lambda r: f"{r.uniform(0, 1000):.{r.randint(1, 3)}f}",
    "size": lambda r: r.choice([f"{r.randint(1, 999)} bytes", f"{r.uniform(1, 99):.2f} KB"]),
    "ms": lambda r: f"{r.randint(1, 5000)}ms",
    "job": lambda r: f"job_{r.randint(10**12, 10**13)}_{r.randint(1, 9999):04d}",
    "attempt": lambda r: (
        f"attempt_{r.randint(10**12, 10**13)}_{r.randint(1, 99):04d}_m_{r.randint(0, 99):06d}_{r.randint(0, 3)}"
    ),
    "container": lambda r: (
        f"container_{r.randint(10**12, 10**13)}_{r.randint(1, 99):04d}_01_{r.randint(1, 99):06d}"
    ),
    "node": lambda r: f"node-{r.randint(1, 400)}",
    "rack": lambda r: (
        f"R{r.randint(0, 77):02d}-M{r.randint(0, 1)}-N{r.randint(0, 15)}-C:J{r.randint(2, 17):02d}-U{r.randint(0, 11):02d}"
    ),
    "session": lambda r: f"0x{_hex(r, 14)}",
    "rdd": lambda r: f"rdd_{r.randint(0, 40)}_{r.randint(0, 40)}",
    "cls": lambda r: r.choice(["TaskSetManager", "BlockManager", "Executor", "MemoryStore"]),
    "list": lambda r: ", ".join(str(r.randint(0, 99)) for _ in range(r.randint(1, 4))),
}

SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class System:
    """A log source: how its headers look and which events it emits."""

    name: str
    header: Callable[[Rng], str]
    events: list[str]


def _ts_iso(r: Rng) -> str:
    return f"2015-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d},{r.randint(0, 999):03d}"


def _syslog(r: Rng) -> str:
    month = r.choice(["Jun", "Jul", "Dec", "Jan"])
    return f"{month} {r.randint(1, 28):>2} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


SYSTEMS = [
    System(
        "HDFS",
        lambda r: f"0811{r.randint(10, 11)} {r.randint(0, 235959):06d} {r.randint(1, 9999)}",
        [
            "INFO dfs.DataNode$PacketResponder: PacketResponder {small} for block {blk} terminating",
            "INFO dfs.DataNode$PacketResponder: Received block {blk} of size {n} from /{ip}",
            "INFO dfs.DataNode$DataXceiver: Receiving block {blk} src: /{ipport} dest: /{ipport}",
            "INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: {ipport} is added to {blk} size {n}",
            "INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: {path}. {blk}",
            "INFO dfs.DataNode$DataXceiver: {ipport} Served block {blk} to /{ip}",
            "WARN dfs.DataNode$DataXceiver: {ipport}:Got exception while serving {blk} to /{ip}:",
            "INFO dfs.FSNamesystem: BLOCK* NameSystem.delete: {blk} is added to invalidSet of {ipport}",
            "INFO dfs.FSDataset: Deleting block {blk} file {path}",
            "INFO dfs.DataBlockScanner: Verification succeeded for {blk}",
            "WARN dfs.DataNode$DataXceiver: {ipport}:Failed to transfer {blk} to {ipport} got java.io.IOException: Connection reset by peer",
        ],
    ),
    System(
        "OpenSSH",
        lambda r: f"{_syslog(r)} LabSZ sshd[{r.randint(1000, 30000)}]:",
        [
            "Invalid user {user} from {ip}",
            "input_userauth_request: invalid user {user} [preauth]",
            "Failed password for invalid user {user} from {ip} port {port} ssh2",
            "Failed password for {user} from {ip} port {port} ssh2",
            "Accepted password for {user} from {ip} port {port} ssh2",
            "pam_unix(sshd:auth): check pass; user unknown",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
            "Received disconnect from {ip}: 11: Bye Bye [preauth]",
            "Connection closed by {ip} [preauth]",
            "reverse mapping checking getaddrinfo for {host} [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!",
            "pam_unix(sshd:session): session opened for user {user} by (uid=0)",
            "Did not receive identification string from {ip}",
            "error: maximum authentication attempts exceeded for {user} from {ip} port {port} ssh2 [preauth]",
            "PAM {small} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
        ],
    ),
    System(
        "Linux",
        lambda r: f"{_syslog(r)} combo",
        [
            "sshd(pam_unix)[{n}]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={host}",
            "sshd(pam_unix)[{n}]: check pass; user unknown",
            "su(pam_unix)[{n}]: session opened for user {user} by (uid=0)",
            "su(pam_unix)[{n}]: session closed for user {user}",
            "ftpd[{n}]: connection from {ip} ({host}) at {word}",
            "kernel: Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com) (gcc version 3.3.3 20040412 (Red Hat Linux 3.3.3-7)) #1 Fri Jun 18 2004",
            "logrotate: ALERT exited abnormally with [{small}]",
            "syslogd 1.4.1: restart.",
            "cups: cupsd shutdown succeeded",
            "kernel: Memory: {n}k/{n}k available ({n}k kernel code, {n}k reserved, {n}k data, {n}k init, {n}k highmem)",
            "gdm(pam_unix)[{n}]: authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=  user={user}",
            "xinetd[{n}]: START: ftp pid={n} from={ip}",
        ],
    ),
    System(
        "Apache",
        lambda r: (
            f"[{r.choice(['Sun', 'Mon', 'Tue'])} {r.choice(['Dec', 'Jan'])} {r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} 2005]"
        ),
        [
            "[notice] jk2_init() Found child {n} in scoreboard slot {small}",
            "[notice] workerEnv.init() ok {path}",
            "[error] mod_jk child workerEnv in error state {small}",
            "[error] [client {ip}] Directory index forbidden by rule: {path}",
            "[error] jk2_init() Can't find child {n} in scoreboard",
            "[notice] Apache/2.0.49 (Fedora) configured -- resuming normal operations",
            "[error] [client {ip}] File does not exist: {path}",
            "[notice] caught SIGTERM, shutting down",
        ],
    ),
    System(
        "Hadoop",
        lambda r: f"{_ts_iso(r)}",
        [
            "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_{n}_{n}_{n}",
            "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Executing with tokens:",
            "INFO [AsyncDispatcher event handler] org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: {attempt} TaskAttempt Transitioned from {state} to {state}",
            "INFO [AsyncDispatcher event handler] org.apache.hadoop.mapreduce.v2.app.job.impl.TaskImpl: task_{n}_{n}_m_{n} Task Transitioned from {state} to {state}",
            "INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Assigned container {container} to {attempt}",
            "INFO [IPC Server handler {small} on {port}] org.apache.hadoop.mapred.TaskAttemptListenerImpl: Progress of TaskAttempt {attempt} is : {float}",
            "WARN [LeaseRenewer:msrabi@msra-sa-41:9000] org.apache.hadoop.hdfs.LeaseRenewer: Failed to renew lease for [DFSClient_NONMAPREDUCE_{n}_1] for {n} seconds.  Will retry shortly ...",
            "INFO [main] org.apache.hadoop.yarn.event.AsyncDispatcher: Registering class org.apache.hadoop.mapreduce.v2.app.job.event.{word}EventType for class org.apache.hadoop.mapreduce.v2.app.job.impl.{word}Handler",
            "INFO [ContainerLauncher #{small}] org.apache.hadoop.mapreduce.v2.app.launcher.ContainerLauncherImpl: Processing the event EventType: CONTAINER_REMOTE_LAUNCH for container {container} taskAttempt {attempt}",
            "ERROR [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: ERROR IN CONTACTING RM.",
            "INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Recalculating schedule, headroom=<memory:{n}, vCores:{small}>",
        ],
    ),
    System(
        "Spark",
        lambda r: (
            f"17/06/{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        ),
        [
            "INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
            "INFO spark.SecurityManager: Changing view acls to: {user}",
            "INFO storage.MemoryStore: Block broadcast_{n} stored as values in memory (estimated size {float} KB, free {float} KB)",
            "INFO storage.BlockManager: Found block {rdd} locally",
            "INFO executor.Executor: Running task {float} in stage {float} (TID {n})",
            "INFO executor.Executor: Finished task {float} in stage {float} (TID {n}). {n} bytes result sent to driver",
            "INFO spark.CacheManager: Partition {rdd} not found, computing it",
            "INFO broadcast.TorrentBroadcast: Reading broadcast variable {n} took {n} ms",
            "INFO python.PythonRunner: Times: total = {n}, boot = {n}, init = {n}, finish = {n}",
            "WARN storage.BlockManager: Putting block {rdd} failed",
            "INFO executor.CoarseGrainedExecutorBackend: Got assigned task {n}",
        ],
    ),
    System(
        "Zookeeper",
        lambda r: f"{_ts_iso(r)} - {r.choice(['INFO ', 'WARN '])}",
        [
            "[NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197] - Accepted socket connection from /{ipport}",
            "[NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@1001] - Closed socket connection for client /{ipport} which had sessionid {session}",
            "[CommitProcessor:1:ZooKeeperServer@595] - Established session {session} with negotiated timeout {n} for client /{ipport}",
            "[SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue",
            "[QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: {n}",
            "[ProcessThread(sid:1 cport:-1)::PrepRequestProcessor@476] - Processed session termination for sessionid: {session}",
            "[WorkerSender[myid=1]:QuorumCnxManager@368] - Cannot open channel to {small} at election address /{ipport}",
            "[NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@349] - caught end of stream exception",
        ],
    ),
    System(
        "BGL",
        lambda r: (
            lambda node: (
                f"- {r.randint(1117838570, 1118838570)} 2005.06.{r.randint(1, 28):02d} {node} 2005-06-{r.randint(1, 28):02d}-{r.randint(0, 23):02d}.{r.randint(0, 59):02d}.{r.randint(0, 59):02d}.{r.randint(0, 999999):06d} {node} RAS"
            )
        )(VARS["rack"](r)),
        [
            "KERNEL INFO instruction cache parity error corrected",
            "KERNEL INFO generating core.{n}",
            "KERNEL FATAL data TLB error interrupt",
            "KERNEL INFO {n} double-hummer alignment exceptions",
            "APP FATAL ciod: failed to read message prefix on control stream (CioStream socket to {ipport}",
            "KERNEL INFO CE sym {n}, at {session}, mask {session}",
            "KERNEL FATAL rts: kernel terminated for reason {n}",
            "KERNEL INFO total of {n} ddr error(s) detected and corrected",
            "APP FATAL ciod: Error loading {path}: invalid or missing program image, No such file or directory",
            "KERNEL FATAL machine check interrupt (bit={session}): L2 dcache unit data parity error",
        ],
    ),
    System(
        "HPC",
        lambda r: f"{r.randint(1, 500000)} {VARS['node'](r)}",
        [
            "unix.hw state_change.unavailable {n} 1 Component State Change: Component \\042alt0\\042 is in the unavailable state (HWID={n})",
            "action start {n} 1 clusterAddMember  (command {n})",
            "boot_cmd new {n} 1 Targeting domains:{node} and nodes:{node} child of command {n}",
            "node status {n} 1 running",
            "node boot {n} 1 Command has completed successfully",
            "gige7 gige {n} 1 Link error on broadcast tree Interconnect-0T00:00:{small}:00",
            "unix.hw net.niff.down {n} 1 NIFF: node {node} detected a failed network connection on network {ip} via interface alt0",
            "node psu {n} 1 PSU status ( on off )",
        ],
    ),
    System(
        "Android",
        lambda r: (
            f"03-17 {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999):03d}  {r.randint(600, 30000)}  {r.randint(600, 30000)}"
        ),
        [
            'D PowerManagerService: acquire lock={n}, flags={session}, tag="RILJ_ACK_WL", name={pkg}, ws=null, uid={n}, pid={n}',
            'D PowerManagerService: release:lock={n}, flg=0x0, tag="RILJ_ACK_WL", name={pkg}", ws=null, uid={n}, pid={n}',
            "V WindowManager: Skipping AppWindowToken{{{hex} token=Token{{{hex} ActivityRecord{{{hex} u0 {pkg}/.{activity} t{n}}}}}}} -- going to hide",
            "I ActivityManager: Start proc {n}:{pkg}/u0a{n} for service {pkg}/.{activity}",
            "D DisplayPowerController: Animating brightness: target={n}, rate={n}",
            "W ActivityManager: Unable to start service Intent {{ act={pkg}.ACTION cmp={pkg}/.{activity} }} U=0: not found",
            "I PhoneStatusBar: setSystemUiVisibility vis={small} mask={hex} oldVal={small} newVal={small} diff={small}",
            "E AndroidRuntime: FATAL EXCEPTION: main",
        ],
    ),
    System(
        "Proxifier",
        lambda r: (
            f"[10.{r.randint(10, 31)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}]"
        ),
        [
            "{app} - {host}:{port} open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
            "{app} - {host}:{port} close, {n} bytes sent, {n} bytes received, lifetime {ms}",
            "{app} - {host}:{port} error : Could not connect through proxy proxy.cse.cuhk.edu.hk:5070 - Proxy server cannot establish a connection with the target, status code {n}",
            "{app} *64 - {host}:{port} open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
        ],
    ),
]


def _fill(template: str, rng: Rng) -> str:
    filled = SLOT.sub(lambda m: VARS[m.group(1)](rng), template)
    return filled.replace("{{", "{").replace("}}", "}")


def event_template(template: str) -> str:
    """The true template in Loghub notation: slots as `<*>`."""
    return SLOT.sub("<*>", template).replace("{{", "{").replace("}}", "}")


def generate(system: System, count: int, seed: int = 2024) -> Iterator[tuple[str, str]]:
    """`count` (event id, line) pairs; events follow a skewed, Loghub-like frequency."""
    rng = random.Random(f"{system.name}-{seed}")
    weights = [1.0 / (rank + 1) for rank in range(len(system.events))]
    for _ in range(count):
        index = rng.choices(range(len(system.events)), weights)[0]
        yield f"E{index + 1}", f"{system.header(rng)} {_fill(system.events[index], rng)}"


def mixed_lines(count: int, seed: int = 7) -> Iterator[str]:
    """A realistic interleaving of every system, for throughput benchmarks."""
    streams = [generate(system, count, seed) for system in SYSTEMS]
    rng = random.Random(seed)
    for _ in range(count):
        yield next(rng.choice(streams))[1]


SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "analysis" / "data" / "templates"


def write_samples(per_system: int = 400) -> None:
    """Write `<System>.tsv` (event id TAB line) and `<System>.events` for each system."""
    SAMPLES.mkdir(parents=True, exist_ok=True)
    for system in SYSTEMS:
        rows = list(generate(system, per_system))
        lines = [f"{event}\t{line}" for event, line in rows]
        (SAMPLES / f"{system.name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        events = [f"E{i + 1}\t{event_template(t)}" for i, t in enumerate(system.events)]
        (SAMPLES / f"{system.name}.events").write_text("\n".join(events) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_samples()
    print(f"wrote samples for {len(SYSTEMS)} systems to {SAMPLES}")


def grouping_accuracy(truth: list[str], predicted: list[str]) -> float:
    """Loghub's grouping accuracy: a line counts when its predicted group is exactly its true group."""
    true_groups: dict[str, set[int]] = {}
    predicted_groups: dict[str, set[int]] = {}
    for index, (event, group) in enumerate(zip(truth, predicted, strict=True)):
        true_groups.setdefault(event, set()).add(index)
        predicted_groups.setdefault(group, set()).add(index)
    correct = sum(
        len(members)
        for members in predicted_groups.values()
        if true_groups[truth[next(iter(members))]] == members
    )
    return correct / len(truth) if truth else 1.0


def load_samples() -> dict[str, tuple[list[str], list[str]]]:
    """System name -> (true event ids, lines) from the labelled samples."""
    samples = {}
    for path in sorted(SAMPLES.glob("*.tsv")):
        events, lines = [], []
        for row in path.read_text(encoding="utf-8").splitlines():
            event, line = row.split("\t", 1)
            events.append(event)
            lines.append(line)
        samples[path.stem] = (events, lines)
    return samples
