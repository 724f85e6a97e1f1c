"""Running the real `leadflow serve` as a subprocess on a free loopback port."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0
STOP_SECONDS = 10.0


class ServerFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float | None:
        """User and system CPU the server process has used so far; None off Linux."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime are fields 14 and 15 of stat(5); the split dropped the first two.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _leadflow_command() -> list[str]:
    script = Path(sys.executable).parent / "leadflow"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "api.cli"]


@contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[Server]:
    """`leadflow serve` on the database, answering /health; stopped however the block ends.

    Its output goes to a log in `workdir`; the last lines are shown when something fails.
    """
    port = free_port()
    env = {
        **os.environ,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_HOST": HOST,
        "LEADFLOW_STAGES_FILE": str(REPO_ROOT / "stages.yaml"),
        # One key makes every request, far more than a key's budget allows in production.
        "LEADFLOW_RATE_LIMIT": "off",
        # The code of this checkout, even where the venv has another one installed.
        "PYTHONPATH": str(REPO_ROOT),
    }
    log = workdir / "server.log"
    with log.open("wb") as output:
        # A session of its own, so a Ctrl-C reaches only the bench, which then stops the server.
        process = subprocess.Popen(
            [*_leadflow_command(), "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(HOST, port, process, log)
    try:
        _wait_healthy(server)
        yield server
    except Exception:
        print(f"server log, last lines:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        _stop(process)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"leadflow serve exited with code {server.process.returncode}")
        connection = http.client.HTTPConnection(server.host, server.port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise ServerFailed(f"leadflow serve did not answer /health within {START_SECONDS:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
