"""The README's tour, run the way a new user follows it: every ```sh block from "## A tour" to
the comment that ends the tour, in order, in one bash, against a real `leadflow serve` on a
fresh database; each answer is checked against the comment under its command.

A block is a list of commands. A command is one line or several (continued with a trailing
`\\`, or inside an open quote); the `#` comment lines right after it show its answer:

- A request (a command starting with `lf` or `curl`; it names its server as `$LF_URL`): an
  optional status first (`# 409 ...`; none means any 2xx), then a JSON value, or `"key":
  value` pairs standing for an object, possibly over several comment lines (joined with one
  space). Every key shown must be in the answer with the value shown; objects are compared by
  the keys they show. `...` stands for what was left out or cannot be known: as a member of an
  object it is only for the reader; as a value it admits any value (the key must be there); as
  the last item of a list it admits more items (a list without it has exactly the items
  shown); a string ending in `...` admits any string that starts with what precedes it
  (`"whsec_..."`). No comment means any 2xx.
- Any other command must exit with 0; its comment is checked only when it is JSON (it starts
  with `{` or `[`), else it shows for the reader the text the command prints.

The lines `export KEY=...` and `export LF_URL=...` get the test's key and server. curl prints
each answer's status after its body (`write-out` in a `.curlrc` of the test's own, so the
commands run as the README shows them). After an answer 202 (work done in the background),
the next command waits until the scheduler has nothing queued or running, as a person reading
the answer would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS
from tests.patience import HTTP_SECONDS
from tests.processes import free_port

README = Path(__file__).resolve().parent.parent / "README.md"
TOUR_START = "## A tour: one lead through its stages"
TOUR_END = "<!-- The tour ends here:"
OUR_VARIABLES = ("KEY", "LF_URL")
STEP_SECONDS = 120
START_SECONDS = 60


# The tour as steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    line: int  # of README.md, where the command starts
    command: str
    answer: str  # the comment lines under it, without their `#`, joined with one space

    @property
    def request(self) -> bool:
        words = self.command.split(maxsplit=1)
        return bool(words) and words[0] in ("lf", "curl")

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.command.splitlines()[0]}"


def _complete(command: str) -> bool:
    """Whether the lines so far make a whole command: no trailing `\\`, no quote left open."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # no closing quotation
        return False
    return True


def _block_steps(lines: list[str], first: int) -> list[Step]:
    """The commands of one block, whose lines start at line `first` (counted from 0)."""
    steps: list[Step] = []
    command: list[str] = []
    answer: list[str] = []
    start = first
    for number, line in enumerate(lines, first):
        if command and not _complete("\n".join(command)):
            command.append(line)
        elif line.lstrip().startswith("#"):
            if not command:
                raise ValueError(f"README.md:{number + 1}: a comment that follows no command")
            answer.append(line.lstrip()[1:].strip())
        elif line.strip():
            if command:
                steps.append(Step(start + 1, "\n".join(command), " ".join(answer)))
            command, answer, start = [line], [], number
    if command and not _complete("\n".join(command)):
        raise ValueError(f"README.md:{start + 1}: the command does not end")
    if command:
        steps.append(Step(start + 1, "\n".join(command), " ".join(answer)))
    return steps


def tour_steps(readme: str) -> list[Step]:
    """The commands of every ```sh block of the tour, in order, each with its answer."""
    lines = readme.splitlines()
    starts = [n for n, line in enumerate(lines) if line == TOUR_START]
    ends = [n for n, line in enumerate(lines) if line.startswith(TOUR_END)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"README.md must have one {TOUR_START!r} and, after it, one {TOUR_END!r}")
    steps: list[Step] = []
    opening: int | None = None
    for number in range(starts[0], ends[0]):
        if opening is None and lines[number] == "```sh":
            opening = number
        elif opening is not None and lines[number] == "```":
            steps += _block_steps(lines[opening + 1 : number], opening + 1)
            opening = None
    if opening is not None:
        raise ValueError(f"README.md:{opening + 1}: the block does not end before the tour does")
    return steps


# The answers as the comments show them -------------------------------------------------------


class Prefix(str):
    """A string shown as `"whsec_..."`: any string that starts with it."""


NOTHING: Any = object()  # no body shown
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Expected:
    status: int | None  # None: any 2xx
    body: Any  # NOTHING, or the value shown, with Ellipsis and Prefix where elided


class _Reader:
    """JSON, and `...` where something is left out."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{why} at {self.text[self.at : self.at + 30]!r} in {self.text!r}")

    def peek(self) -> str:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1
        return self.text[self.at : self.at + 1]

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.at += 1

    def elided(self) -> bool:
        self.peek()
        if self.text.startswith("...", self.at):
            self.at += 3
            return True
        return False

    def whole(self) -> Any:
        found = self.value()
        if self.peek():
            raise self.fail("unexpected text")
        return found

    def value(self) -> Any:
        if self.elided():
            return ...
        char = self.peek()
        if char == "{":
            return self.members()
        if char == "[":
            return self.items()
        if char == '"':
            found = self.string()
            return Prefix(found[:-3]) if found.endswith("...") else found
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.at):
                self.at += len(word)
                return meaning
        number = _NUMBER.match(self.text, self.at)
        if number is None:
            raise self.fail("expected a value")
        self.at = number.end()
        return json.loads(number.group())

    def string(self) -> str:
        self.take('"')
        found, self.at = json.decoder.scanstring(self.text, self.at)
        return found

    def members(self) -> dict[str, Any]:
        self.take("{")
        found: dict[str, Any] = {}
        while self.peek() != "}":
            if not self.elided():
                key = self.string()
                if key in found:
                    raise self.fail(f"{key!r} shown twice")
                self.take(":")
                found[key] = self.value()
            if self.peek() != ",":
                break
            self.at += 1
        self.take("}")
        return found

    def items(self) -> list[Any]:
        self.take("[")
        found: list[Any] = []
        while self.peek() != "]":
            found.append(self.value())
            if self.peek() != ",":
                break
            self.at += 1
        self.take("]")
        if any(item is ... for item in found[:-1]):
            raise self.fail("`...` stands last in a list (for more items)")
        return found


def parse_answer(answer: str) -> Expected:
    status = re.match(r"([1-5]\d\d)(?:\s+|$)", answer)
    rest = answer[status.end() :] if status else answer
    code = int(status.group(1)) if status else None
    if not rest:
        return Expected(code, NOTHING)
    return Expected(code, _Reader(rest if rest[0] in "{[" else "{" + rest + "}").whole())


def mismatches(expected: Any, actual: Any, where: str = "answer") -> list[str]:
    """How `actual` differs from what the comment shows; nothing when it matches."""
    if expected is ...:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{where}: no {key!r}")
            else:
                found += mismatches(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        more = bool(expected) and expected[-1] is ...
        shown = expected[:-1] if more else expected
        if len(actual) < len(shown) or (not more and len(actual) != len(shown)):
            least = "at least " if more else ""
            return [f"{where}: expected {least}{len(shown)} items, got {len(actual)}: {actual!r}"]
        found = []
        for index, item in enumerate(shown):
            found += mismatches(item, actual[index], f"{where}[{index}]")
        return found
    if isinstance(expected, Prefix):
        same = isinstance(actual, str) and actual.startswith(expected)
    elif isinstance(expected, bool | str) or expected is None:
        same = type(actual) is type(expected) and actual == expected
    else:  # a number: 25000 is 25000.0, but true is not 1
        same = isinstance(actual, int | float) and not isinstance(actual, bool)
        same = same and actual == expected
    return [] if same else [f"{where}: expected {expected!r}, got {actual!r}"]


# A server, a database, a shell ---------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    key: str
    log: Path
    env: dict[str, str]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def environment(database_url: str, directory: Path) -> dict[str, str]:
    """A new user's shell: no LEADFLOW_ settings of the developer's, the venv's commands on the
    PATH, curl configured to print each answer's status."""
    curl_home = directory / "curl"
    curl_home.mkdir(exist_ok=True)
    (curl_home / ".curlrc").write_text('write-out = "\\n%{http_code}"\nmax-time = 60\n')
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LEADFLOW_", "CURL_"))
    }
    return {
        **clean,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "CURL_HOME": str(curl_home),
        "LEADFLOW_DATABASE_URL": database_url,
        # The hourly evaluation would add an evaluation among the tour's when the hour turns
        # during the run; with ten years between them, only the scheduler's evaluation at
        # start (evaluation 1) comes before the tour's, as for a person following it.
        "LEADFLOW_EVALUATION_INTERVAL": "3650d",
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving(database_url: str, directory: Path) -> Iterator[Served]:
    """`leadflow serve` on a free loopback port in `directory`, until the block ends."""
    leadflow = Path(sys.executable).with_name("leadflow")
    assert leadflow.is_file(), f"no {leadflow}: install the project (pip install -e '.[test]')"
    env = environment(database_url, directory)
    if make_url(database_url).get_backend_name() != "sqlite":  # serve migrates SQLite only
        upgraded = subprocess.run(
            [leadflow, "db", "upgrade"], cwd=directory, env=env, capture_output=True, timeout=120
        )
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    port = free_port()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [leadflow, "serve", "--port", str(port)],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        served = Served(f"http://127.0.0.1:{port}", "", log, env)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"leadflow serve exited with {process.returncode}:\n{served.log_tail()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"leadflow serve did not answer /health:\n{served.log_tail()}")
            try:
                if httpx.get(f"{served.url}/health", timeout=HTTP_SECONDS).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        # Printed once, on the first start, before the server listens.
        key = re.search(r"^First start: .*\n\s+(lf_\S+)$", log.read_text(), re.MULTILINE)
        assert key is not None, f"no admin key in the output of leadflow serve:\n{log.read_text()}"
        served = Served(served.url, key.group(1), log, env)
        yield served
    finally:
        _stop(process)


def settle(served: Served, seconds: float = STEP_SECONDS) -> None:
    """Wait until every job has run once (the scheduler's pass at start) and none is queued or
    running, nor any evaluation."""
    auth = {"Authorization": f"Bearer {served.key}"}
    deadline = time.monotonic() + seconds
    while True:
        jobs = httpx.get(f"{served.url}/api/jobs", headers=auth, timeout=HTTP_SECONDS)
        evaluations = httpx.get(f"{served.url}/api/evaluations", headers=auth, timeout=HTTP_SECONDS)
        assert jobs.status_code == evaluations.status_code == 200, jobs.text + evaluations.text
        busy = [
            job["name"]
            for job in jobs.json()
            if job["running"] or job["queued"] or job["last_run"] is None
        ] + [
            f"evaluation {run['id']}"
            for run in evaluations.json()
            if run["status"] in ("queued", "running")
        ]
        if not busy:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"still at work after {seconds} s: {busy}\n{served.log_tail()}")
        time.sleep(0.05)


class Shell:
    """One bash for the whole tour, as a person's terminal: variables and aliases carry over
    from one command to the next."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.out = directory / "step.out"
        self.err = directory / "step.err"
        self.done = f"__step_done_{secrets.token_hex(8)}__"
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.buffer = b""
        code, _, err = self.run("shopt -s expand_aliases")
        assert code == 0, err

    def run(self, command: str, seconds: float = STEP_SECONDS) -> tuple[int, str, str]:
        """Run the command; its exit status, standard output and standard error."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(
            f"{{\n{command}\n}} >'{self.out}' 2>'{self.err}' </dev/null\n"
            f"echo {self.done} $?\n".encode()
        )
        self.process.stdin.flush()
        ended = re.compile(rf"{self.done} (\d+)\n".encode())
        deadline = time.monotonic() + seconds
        while (found := ended.search(self.buffer)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no end after {seconds} s")
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"bash ended: {self.buffer.decode(errors='replace')}")
                self.buffer += chunk
        self.buffer = self.buffer[found.end() :]
        return int(found.group(1)), self.out.read_text(), self.err.read_text()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# The tour ------------------------------------------------------------------------------------


def _ours(step: Step, served: Served) -> str | None:
    """The test's value for an `export KEY=...` or `export LF_URL=...` line, else None."""
    line = re.fullmatch(r"export (\w+)=\S*(?:\s+#.*)?", step.command)
    if line is None or line.group(1) not in OUR_VARIABLES:
        return None
    value = served.key if line.group(1) == "KEY" else served.url
    return f"export {line.group(1)}={shlex.quote(value)}"


def check_step(step: Step, code: int, out: str, err: str) -> tuple[list[str], int | None]:
    """What is wrong with the command's result, and the answer's status (for a request)."""
    expected = parse_answer(step.answer) if step.request or step.answer[:1] in "{[" else None
    if code != 0:
        return [f"exit status {code}; stderr: {err.strip()}; stdout: {out.strip()[:2000]}"], None
    if not step.request:
        body = out
        status = None
    else:
        body, _, last = out.rpartition("\n")
        if not re.fullmatch(r"\d{3}", last):
            return [f"curl printed no status: {out[:2000]!r}"], None
        status = int(last)
        assert expected is not None
        wanted = expected.status
        if (wanted is None and not 200 <= status < 300) or (wanted not in (None, status)):
            return [f"status {status}, expected {wanted or '2xx'}: {body[:2000]}"], status
    if expected is None or expected.body is NOTHING:
        return [], status
    try:
        actual = json.loads(body)
    except ValueError:
        return [f"the answer is no JSON: {body[:2000]!r}"], status
    problems = mismatches(expected.body, actual)
    if problems:
        problems.append(f"the whole answer: {json.dumps(actual)[:4000]}")
    return problems, status


def check_tour(steps: list[Step]) -> None:
    """What the tour must hold before anything runs: its variables, its server, its answers."""
    commands = [step.command for step in steps]
    for name in OUR_VARIABLES:
        assert any(re.match(rf"export {name}=", command) for command in commands), (
            f"the tour must set {name} (export {name}=...)"
        )
    for step in steps:
        if step.request:
            assert "$LF_URL" in step.command, f"{step}: name the server as $LF_URL"
        if step.request or step.answer[:1] in "{[":
            try:
                parse_answer(step.answer)
            except ValueError as exc:
                raise AssertionError(f"{step}: the answer cannot be read: {exc}") from None


def run_tour(steps: list[Step], served: Served, directory: Path) -> None:
    """Run every step in one shell; fail at the first whose result is not the one shown."""
    check_tour(steps)
    settle(served)
    shell = Shell(directory, served.env)
    try:
        for step in steps:
            code, out, err = shell.run(_ours(step, served) or step.command)
            problems, status = check_step(step, code, out, err)
            if problems:
                shown = f"\n   # {step.answer}" if step.answer else ""
                raise AssertionError(
                    f"{step}\n{step.command}{shown}\n"
                    + "\n".join(f"- {problem}" for problem in problems)
                    + f"\nleadflow serve said, last:\n{served.log_tail()}"
                )
            if status == 202:
                settle(served)
    finally:
        shell.close()


@pytest.fixture(params=BACKENDS)
def tour_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no one has used: a SQLite file, or a PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leadflow.db'}"
        return
    server = make_url(os.environ["LEADFLOW_TEST_DATABASE_URL"])
    name = f"leadflow_tour_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def test_the_readme_tour_answers_as_shown(tour_database: str, tmp_path: Path) -> None:
    for program in ("curl", "bash"):
        if shutil.which(program) is None:
            pytest.fail(f"the README's tour needs {program}: install it to run this test")
    steps = tour_steps(README.read_text())
    check_tour(steps)
    with serving(tour_database, tmp_path) as served:
        run_tour(steps, served, tmp_path)


def test_an_answer_other_than_shown_is_refused() -> None:
    steps = tour_steps(README.read_text())
    check_tour(steps)
    first = next(step for step in steps if step.request)
    expected = parse_answer(first.answer)
    assert expected.status == 201
    answer = {
        "id": 1,
        "topic": "Pricing questions after the webinar",
        "process": "lead_to_opportunity",
        "stage": "inquiry",
        "missing_steps": [],
        "version": 1,
    }
    assert mismatches(expected.body, answer) == []
    assert check_step(first, 0, json.dumps(answer) + "\n201", "") == ([], 201)
    assert mismatches(expected.body, {**answer, "version": 2}) == [
        "answer.version: expected 1, got 2"
    ]
    assert mismatches(expected.body, {**answer, "missing_steps": ["owner"]}) != []
    assert check_step(first, 0, json.dumps(answer) + "\n200", "")[0] != []
    assert check_step(first, 7, "", "curl: (7) Failed to connect")[0] != []
    shown = parse_answer('"a": [1, ...], "b": ..., "c": "whsec_...", "d": {"e": true}').body
    assert mismatches(shown, {"a": [1, 2], "b": None, "c": "whsec_x", "d": {"e": True}}) == []
    assert mismatches(shown, {"a": [2], "b": 0, "c": "whsec_x", "d": {"e": True}}) != []
    assert mismatches(shown, {"a": [1], "c": "x", "d": {"e": 1}}) == [
        "answer: no 'b'",
        "answer.c: expected 'whsec_', got 'x'",
        "answer.d.e: expected True, got 1",
    ]
