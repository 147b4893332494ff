"""RabbitMQ nodes of a run's own on this machine: one (the chaos short form's and the broker-restart
test's ``--own-broker``, on free ports) or a cluster of several (``bench/cluster.py``), each run from
the installed RabbitMQ's own scripts with its own name, ports, directory and Erlang cookie. The
machine's own node (rabbit@localhost, 5672/15672) is never used or touched. ``bench/cluster.py``'s
docstring says how a node is configured.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Broker, say  # noqa: E402

# The machine's own broker: never used, never touched.
RESERVED_PORTS = {5672, 15672, 25672, 4369}
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class ClusterError(Exception):
    pass


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rabbit_bin() -> Path:
    """The directory of RabbitMQ's own scripts (Debian: ``/usr/lib/rabbitmq/bin``; a generic
    install: the directory of ``rabbitmq-server`` on the PATH)."""
    if (RABBIT_BIN / "rabbitmq-server").exists():
        return RABBIT_BIN
    found = shutil.which("rabbitmq-server")
    if not found:
        raise ClusterError("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
    return Path(found).resolve().parent


class Node:
    def __init__(self, cluster: "Cluster", index: int):
        self.cluster = cluster
        self.index = index
        self.name = f"{cluster.name}{index}@localhost"
        self.amqp_port = cluster.base_port + index - 1
        self.management_port = self.amqp_port + 10000
        self.dist_port = self.amqp_port + 20000
        self.dir = cluster.tmp / f"ztc{index}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict:
        c = self.cluster
        return dict(
            os.environ,
            HOME=str(c.tmp),
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONF_ENV_FILE=str(c.tmp / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "advanced.config"),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_PID_FILE=str(self.dir / "pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(c.tmp / "enabled_plugins"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )

    def prepare(self) -> None:
        (self.dir / "mnesia").mkdir(parents=True)
        (self.dir / "log").mkdir()
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
            "queue_leader_locator = balanced\n"
            "cluster_partition_handling = pause_minority\n"
        )

    def start(self) -> None:
        log = open(self.dir / "server.out", "ab")
        # A process group of its own: the node (and any child it spawns) is stopped by this id.
        self.proc = subprocess.Popen(
            [str(self.cluster.bin / "rabbitmq-server")],
            env=self.env(),
            cwd=self.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def ctl(self, *args, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        """``rabbitmqctl -n <this node> ARGS`` with the cluster's cookie. The CLI itself starts an
        Erlang VM: on a loaded machine a call takes tens of seconds. A call that runs past
        ``timeout`` is a failure (returncode None), not an exception, unless ``check``."""
        command = [str(self.cluster.bin / "rabbitmqctl"), "-n", self.name, *args]
        try:
            done = subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            done = subprocess.CompletedProcess(command, None, "", f"no answer in {timeout:.0f}s")
        if check and done.returncode != 0:
            raise ClusterError(
                f"rabbitmqctl -n {self.name} {' '.join(args)} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-1500:]}"
            )
        return done

    def await_startup(self, timeout: float = 300) -> None:
        """Until the node serves: its management API answers for it and its AMQP port accepts.
        (``rabbitmqctl await_startup`` starts a VM of its own for every call: under a load average
        of 30 here it did not answer in 300 s while the node had long started.)"""
        import requests

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ClusterError(
                    f"{self.name} exited with {self.proc.returncode} while starting; its output:\n{self.output()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=5):
                    pass
                answer = requests.get(
                    f"http://127.0.0.1:{self.management_port}/api/health/checks/alarms",
                    auth=("guest", "guest"),
                    timeout=10,
                )
                if answer.status_code == 200:
                    return
            except (OSError, requests.RequestException):
                pass
            time.sleep(1)
        raise ClusterError(f"{self.name} did not start in {timeout:.0f}s; its output:\n{self.output()}")

    def output(self, lines: int = 30) -> str:
        path = self.dir / "server.out"
        return "".join(path.read_text(errors="replace").splitlines(True)[-lines:]) if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the node's process group: no goodbye to the cluster."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """``rabbitmqctl stop``, then SIGKILL of the node's process group whatever that did."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.ctl("stop", timeout=60, check=False)
                self.proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, OSError):
            pass
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # anything of its group still there
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)


def free_base_port(nodes: int = 1, first: int = 5691, last: int = 5790) -> int:
    """The first base port from ``first`` whose AMQP, management and distribution ports (base+i-1,
    +10000, +20000) are free for ``nodes`` nodes: two runs on one machine each get their own."""
    for base in range(first, last - nodes + 2):
        ports = [p + offset for p in range(base, base + nodes) for offset in (0, 10000, 20000)]
        if not RESERVED_PORTS.intersection(ports) and all(port_free(p) for p in ports):
            return base
    raise ClusterError(f"no free ports for {nodes} node(s) from {first} to {last}")


class Cluster:
    """``nodes`` RabbitMQ nodes of their own, ``<name>1@localhost``.. (node names are the machine's:
    another cluster at the same time takes another ``name``), clustered with the first."""

    def __init__(self, nodes: int = 3, base_port: int = 5681, name: str = "ztc"):
        self.name = name
        self.base_port = base_port
        self.bin = rabbit_bin()
        self.tmp = Path(tempfile.mkdtemp(prefix="ztc-cluster-"))
        self.nodes = [Node(self, i) for i in range(1, nodes + 1)]

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        ports = [p for n in self.nodes for p in (n.amqp_port, n.management_port, n.dist_port)]
        reserved = RESERVED_PORTS.intersection(ports)
        if reserved:
            raise ClusterError(f"ports {sorted(reserved)} are the machine's own broker's; choose another --base-port")
        taken = [p for p in ports if not port_free(p)]
        if taken:
            raise ClusterError(f"ports {taken} are in use (another cluster run?); choose another --base-port")
        # A cookie of our own, in our own HOME: Erlang reads $HOME/.erlang.cookie (owner-only).
        cookie = self.tmp / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        os.chmod(cookie, 0o400)
        (self.tmp / "rabbitmq-env.conf").write_text("")
        (self.tmp / "enabled_plugins").write_text("[rabbitmq_management].\n")
        for node in self.nodes:
            node.prepare()
            node.start()
        for node in self.nodes:
            node.await_startup()
            say(f"{node.name} up: AMQP 127.0.0.1:{node.amqp_port}, management {node.management_port}")
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        status = first.ctl("cluster_status", "--formatter", "json").stdout
        import json

        running = json.loads(status).get("running_nodes", [])
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise ClusterError(f"the cluster runs {running}, not every node: {status[:500]}")
        say(f"cluster of {', '.join(running)} (directory {self.tmp})")

    def broker(self, victim: int = 2, down: float = 10.0) -> Broker:
        """The chaos harness's broker: ztc1's AMQP and management; its fault SIGKILLs node
        ``victim``, waits ``down`` seconds and starts it again."""
        first, node = self.nodes[0], self.nodes[victim - 1]

        def kill_a_node() -> float:
            began = time.time()
            say(f"SIGKILL of {node.name} (pid {node.proc.pid if node.proc else '?'})")
            node.kill()
            time.sleep(down)
            node.start()
            node.await_startup()
            say(f"{node.name} back in the cluster")
            return time.time() - began

        return Broker(
            f"127.0.0.1:{first.amqp_port}",
            f"127.0.0.1:{first.management_port}",
            kill_a_node,
            name=f"a cluster of {len(self.nodes)} nodes ({node.name} killed mid-run)",
        )

    def restarting(self) -> Broker:
        """The chaos harness's broker on the first node, its fault what the machine's broker's is
        (``harness.restart_broker``): the node's RabbitMQ application stopped and started. Nothing
        else on the machine feels it."""
        node = self.nodes[0]

        def restart() -> float:
            began = time.time()
            node.ctl("stop_app")
            node.ctl("start_app")
            node.await_startup()
            return time.time() - began

        return Broker(
            f"127.0.0.1:{node.amqp_port}",
            f"127.0.0.1:{node.management_port}",
            restart,
            name=f"a node of its own ({node.name}, AMQP {node.amqp_port})",
        )

    def close(self) -> None:
        for node in reversed(self.nodes):
            try:
                node.stop()
            except Exception as exc:  # keep stopping the others
                say(f"stopping {node.name}: {exc}")
        if os.environ.get("ZTC_BENCH_KEEP"):
            say(f"kept {self.tmp} (ZTC_BENCH_KEEP)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        say("cluster stopped")
