#!/usr/bin/env python3
"""Run the remote-store tests against a second SPARQL engine: Virtuoso 7 (Debian's
virtuoso-opensource package, `virtuoso-t`).

The server is started on 127.0.0.1 only, from a virtuoso.ini written into a temporary directory
(its database, logs and transaction files live there, never in the system's default DB dir), on
two random free ports (SQL and HTTP); SPARQL_UPDATE is granted to the anonymous SPARQL user
through isql on the SQL port; then pytest runs the store-parametrised tests with
AIMSGRAPH_TEST_SPARQL pointing at it (tests/conftest.py), and the server is stopped and the
directory removed, whatever happened. The dialect workarounds are in docs/servers.md.

    python scripts/second_engine.py               # run the tests (exit code: pytest's)
    python scripts/second_engine.py --serve       # start it, print the URL, wait for Ctrl-C
    python scripts/second_engine.py -- -k classify  # extra pytest arguments after --
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_remote_store.py", "tests/test_stores.py"]

INI = """\
[Database]
DatabaseFile       = {d}/virtuoso.db
ErrorLogFile       = {d}/virtuoso.log
LockFile           = {d}/virtuoso.lck
TransactionFile    = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {d}/virtuoso-temp.db
TransactionFile    = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql}
LiteMode                 = 0
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 10
CheckpointInterval       = 60
O_DIRECT                 = 0
CaseMode                 = 2
MaxStaticCursorRows      = 5000
CheckpointAuditTrail     = 0
AllowOSCalls             = 0
SchedulerInterval        = 10
DirsAllowed              = {d}
ThreadCleanupInterval    = 0
ThreadThreshold          = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize        = 100000
SingleCPU                = 0
PrefixResultNames        = 0
RdfFreeTextRulesSize     = 100
IndexTreeMaps            = 64
MaxQueryMem              = 1G
VectorSize               = 1000
MaxVectorSize            = 1000000
AdjustVectorSize         = 0
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 10
NumberOfBuffers          = 20000
MaxDirtyBuffers          = 15000

[HTTPServer]
ServerPort                  = 127.0.0.1:{http}
ServerRoot                  = {d}/vsp
MaxClientConnections        = 10
DavRoot                     = DAV
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
TempASPXDir                 = 0
ServerThreads               = 10
MaxKeepAlives               = 10
KeepAliveTimeout            = 10
HTTPThreadSize              = 280000
HttpPrintWarningsInOutput   = 0
Charset                     = UTF-8
EnabledGzipContent          = 0

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[URIQA]
DynamicLocal = 0
DefaultHost  = 127.0.0.1:{http}

[SPARQL]
ResultSetMaxRows           = 1000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime      = 0
DeferInferenceRulesInit    = 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Virtuoso:
    """A throwaway Virtuoso on loopback: `with Virtuoso() as v: v.url`."""

    def __init__(self, binary: str = "virtuoso-t", isql: str = "isql-vt"):
        self.binary = shutil.which(binary) or binary
        self.isql = shutil.which(isql) or isql
        self.dir = Path(tempfile.mkdtemp(prefix="aimsgraph-virtuoso-"))
        self.sql_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    def sql(self, statement: str) -> str:
        out = subprocess.run([self.isql, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={statement}"],
                             capture_output=True, text=True, timeout=60, check=False)
        if out.returncode != 0 or "*** Error" in out.stdout + out.stderr:
            raise RuntimeError(f"isql {statement!r} failed: {out.stdout}{out.stderr}")
        return out.stdout

    def __enter__(self) -> Virtuoso:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        (self.dir / "vsp").mkdir()
        ini = self.dir / "virtuoso.ini"
        ini.write_text(INI.format(d=self.dir, sql=self.sql_port, http=self.http_port), encoding="utf-8")
        # +foreground: the process is ours to stop; +configfile: never the system's ini or DB dir
        self.proc = subprocess.Popen([self.binary, "+foreground", "+configfile", str(ini)], cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.url + "?query=ASK%7B%7D", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("virtuoso-t exited: " + self.log()) from None
                if time.monotonic() > deadline:
                    raise RuntimeError("virtuoso-t did not answer within 120 s: " + self.log()) from None
                time.sleep(0.2)
        self.sql('GRANT SPARQL_UPDATE TO "SPARQL";')
        self.sql("DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);")  # read+write every graph (GSP)

    def log(self) -> str:
        log = self.dir / "virtuoso.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="start Virtuoso, print its URL, wait for Ctrl-C")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if shutil.which("virtuoso-t") is None:
        print("virtuoso-t is not installed (apt-get install virtuoso-opensource)", file=sys.stderr)
        return 2
    def stop_on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop_on_term)  # so a SIGTERM also stops the server and removes its files
    started = time.monotonic()
    with Virtuoso() as server:
        print(f"== Virtuoso on {server.url} (SQL 127.0.0.1:{server.sql_port}, files in {server.dir}), "
              f"up in {time.monotonic() - started:.1f} s", flush=True)
        if args.serve:
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
            return 0
        env = {**os.environ, "AIMSGRAPH_TEST_SPARQL": server.url, "AIMSGRAPH_STORE_DIALECT": "virtuoso",
               "AIMSGRAPH_TEST_SPARQL_DIGEST": "dba:dba"}  # its admin, for /sparql-auth
        command = [sys.executable, "-m", "pytest", *TESTS, "-p", "no:cacheprovider", "-rxX", *args.pytest_args]
        print("== " + " ".join(command), flush=True)
        code = subprocess.call(command, cwd=ROOT, env=env)
    print(f"== Virtuoso stopped, {server.dir} removed; {time.monotonic() - started:.0f} s in all", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
