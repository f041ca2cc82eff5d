"""``zoo sweep --storage postgresql://...``: two workers, as on two machines, share one
study on a real PostgreSQL server (Debian's ``postgresql``), started here for the test.

The server runs as an unprivileged user (``nobody`` when the suite runs as root, as
PostgreSQL refuses root) in a temporary folder, on 127.0.0.1 and a free port, and is
stopped afterwards. Without PostgreSQL's programs or psycopg (3) the test is skipped
with the command that installs them.

It runs when ``-m`` names it: ``apt-get install postgresql``, then ``pytest -m postgres``.
A plain ``pytest`` (and CI, whose run must stay under 30 minutes) leaves it out: two
processes importing TensorFlow and a server's start cost about 30 s of a 2-core machine.

"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.test_sweep import SPACE, TINY, finished, sweep_cache, sweep_env, trial_table, zoo_process  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.one_backend, pytest.mark.postgres]


def _program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL's programs are missing: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="pip install 'zoo-core[postgres]'")
    root = Path(tempfile.mkdtemp(prefix="zoo-pg-"))
    as_user = {}
    if os.geteuid() == 0:
        as_user = {"user": "nobody", "group": "nogroup" if _has_group("nogroup") else "nobody"}
        os.chmod(root, 0o755)
        shutil.chown(root, "nobody")
    data = root / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*command):
        done = subprocess.run([*command], capture_output=True, text=True, cwd=root, timeout=120, **as_user)
        assert done.returncode == 0, done.stdout + done.stderr

    run(initdb, "-D", str(data), "-U", "zoo", "--auth=trust", "--no-sync", "-E", "UTF8")
    run(pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start",
        "-o", f"-h 127.0.0.1 -p {port} -k {data} -F")
    try:
        # The password is ignored (trust) but must never be written into sweep.toml.
        yield f"postgresql://zoo:secret-word@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, cwd=root,
                       timeout=60, **as_user)
        shutil.rmtree(root, ignore_errors=True)


def _has_group(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def test_two_machines_share_a_study_on_postgresql(sweep_env, postgres_url):  # noqa: F811
    """Two worker processes, each with its own sweep folder (as on two machines), one study
    (about 30 s: two processes import TensorFlow and train three tiny trials)."""
    args = ["sweep", "vae", "--dataset", "npz:tiny.npz", *TINY, "--set", "epochs=1", *SPACE, "--trials", 3,
            "--eval-num", 16, "--pruner", "none", "--storage", postgres_url, "--study-name", "shared"]
    workers = [zoo_process(sweep_env, *args, "--out", f"machine-{k}") for k in (1, 2)]
    outputs = [finished(w) for w in workers]
    ran = [sum(1 for line in out.splitlines() if line.startswith("Trial ") and ": fd " in line) for out in outputs]
    assert sum(ran) == 3 and min(ran) >= 1, outputs
    stored = (sweep_env / "machine-1" / "sweep.toml").read_text()
    assert "secret-word" not in stored and "postgresql://zoo:***@127.0.0.1" in stored

    from tests.conftest import zoo_invoker

    refused = zoo_invoker()("sweep", "show", sweep_env / "machine-2")
    assert refused.exit_code == 1 and "needs its password: give --storage URL" in refused.stderr
    report = trial_table(sweep_env, "machine-2", "--storage", postgres_url)
    assert report["states"]["complete"] == 3 and [r["trial"] for r in report["trials"]] == [0, 1, 2]
    folders = {Path(r["folder"]).parent.parent.name for r in report["trials"]}
    assert folders == {"machine-1", "machine-2"}  # each machine's runs stay in its own folder
