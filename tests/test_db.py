"""The embedded database copies its write-ahead log back into the database file by itself."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import insert

from api.storage import migrate
from api.storage.db import Database
from leads.models import Account
from tests.patience import SETTLE_SECONDS


def _accounts_in_file_alone(path: Path, copy: Path) -> int:
    """The accounts a copy of the database file holds without its WAL."""
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM account").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1  # copied in the middle of a checkpoint's writes: look again
    finally:
        connection.close()


def test_committed_rows_reach_the_database_file_with_no_writer_waiting(tmp_path: Path) -> None:
    path = tmp_path / "leadflow.db"
    db = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(db.write_engine)
        with db.write_connection() as connection:
            connection.execute(insert(Account), [{"name": f"Account {n}"} for n in range(500)])
        # The WAL is far below the writer's own checkpoint size: only the checkpoint thread
        # can have copied the rows into the file.
        deadline = time.monotonic() + SETTLE_SECONDS
        while _accounts_in_file_alone(path, tmp_path / "copy.db") != 500:
            assert time.monotonic() < deadline, "the WAL was not copied back"
            time.sleep(0.2)
    finally:
        db.dispose()
    assert not [t for t in threading.enumerate() if t.name.endswith(str(path))]
