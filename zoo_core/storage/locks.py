"""One writer per run folder: a lock file naming its holder.

``zoo train`` (new, ``--overwrite`` or ``--resume``) holds ``RUN/.zoo-lock``
while it writes the folder. The file holds the holder's pid, host and start
time; it is removed on exit. A lock left by a process that died (``kill -9``,
a power cut) is stale when its host is this one and its pid is gone, and is
then taken over. Any other lock refuses a second writer, naming the holder.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
from pathlib import Path
from typing import Optional

from ..errors import ZooError

LOCK_FILE = ".zoo-lock"


class RunInUse(ZooError):
    """Another process is writing this run folder."""


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def read_holder(run_dir: os.PathLike | str) -> Optional[dict]:
    """Who holds the run folder's lock (``{"pid", "host", "since"}``), or None.

    A lock whose pid is dead on this host is stale and reported as None.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        holder = json.loads(path.read_text())
        pid, host = int(holder["pid"]), str(holder["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return {"pid": "?", "host": "?", "since": "?", "unreadable": True}
    if host == socket.gethostname() and not process_alive(pid):
        return None
    return holder


def describe(holder: dict) -> str:
    if holder.get("unreadable"):
        return "another process (its lock file is unreadable)"
    return f"process {holder['pid']} on {holder['host']} (since {holder.get('since', '?')})"


def in_use_error(run_dir: Path, holder: dict) -> RunInUse:
    return RunInUse(
        f"run folder {run_dir} is in use by {describe(holder)}; wait for it to finish or stop it "
        f"(if that process is gone, delete {Path(run_dir) / LOCK_FILE})"
    )


class RunLock:
    """``with RunLock(run_dir):`` holds the lock of an existing run folder.

    Raises:
        RunInUse: another live process holds it.
    """

    def __init__(self, run_dir: os.PathLike | str):
        self.run_dir = Path(run_dir)
        self.held = False

    @property
    def path(self) -> Path:
        return self.run_dir / LOCK_FILE

    def acquire(self) -> "RunLock":
        doc = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                          "since": _dt.datetime.now().isoformat(timespec="seconds")})
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = read_holder(self.run_dir)
                if holder is not None:
                    raise in_use_error(self.run_dir, holder) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(doc)
            self.held = True
            return self
        holder = read_holder(self.run_dir) or {"pid": "?", "host": "?"}
        raise in_use_error(self.run_dir, holder)

    def move_to(self, run_dir: os.PathLike | str) -> None:
        """The folder was renamed (its lock file went with it)."""
        self.run_dir = Path(run_dir)

    def release(self) -> None:
        if self.held:
            try:
                holder = json.loads(self.path.read_text())
                if int(holder.get("pid", -1)) == os.getpid():
                    self.path.unlink()
            except (OSError, ValueError):
                pass
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False
