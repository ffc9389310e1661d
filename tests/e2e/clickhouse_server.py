"""A private ClickHouse server for the end-to-end tests (python3 standard library only).

Not a test itself (CMake registers tests/e2e/test_*.py only). Usage:

    srv = ClickHouseServer.find()        # None when clickhouse-server is not installed
    with ClickHouseServer() as srv:      # started; stopped and its folder removed on exit
        srv.query("SELECT 1")            # over HTTP, returns the body as text
        srv.stop(); srv.start()          # the same data folder, the same ports

Everything lives in a temporary folder: config, users, data, tmp, logs. It listens on
127.0.0.1 only, on free ports picked at start; no interserver port, no system service.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{root}/log/server.log</log>
        <errorlog>{root}/log/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <max_connections>64</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>32</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{user}>
            <password>{password}</password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </{user}>
    </users>
    <quotas><default></default></quotas>
</yandex>
"""

# A second user with a password, to check that credentials reach the server.
USER, PASSWORD = "wl_writer", "s3cret-pw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClickHouseServer:
    @staticmethod
    def find():
        """The command line that starts a server, or None when none is installed."""
        for cmd in (["clickhouse-server"], ["clickhouse", "server"]):
            if shutil.which(cmd[0]):
                return cmd
        return None

    def __init__(self, start_timeout=60):
        self.cmd = self.find()
        if self.cmd is None:
            raise RuntimeError("clickhouse-server is not installed")
        self.root = tempfile.mkdtemp(prefix="wl-clickhouse-")
        for sub in ("log", "data", "tmp", "user_files", "format_schemas"):
            os.makedirs(os.path.join(self.root, sub))
        self.http_port, self.tcp_port = free_port(), free_port()
        with open(os.path.join(self.root, "config.xml"), "w") as f:
            f.write(CONFIG.format(root=self.root, http_port=self.http_port, tcp_port=self.tcp_port))
        with open(os.path.join(self.root, "users.xml"), "w") as f:
            f.write(USERS.format(user=USER, password=PASSWORD))
        self.start_timeout = start_timeout
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.http_port

    def start(self):
        out = open(os.path.join(self.root, "log", "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            self.cmd + ["--config-file=" + os.path.join(self.root, "config.xml")],
            cwd=self.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("clickhouse-server exited with %d at start; see %s/log"
                                   % (self.proc.returncode, self.root))
            try:
                with urllib.request.urlopen(self.url + "ping", timeout=2) as r:
                    if r.read().strip() == b"Ok.":
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("clickhouse-server did not answer /ping within %ds" % self.start_timeout)

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def query(self, sql, data=None, timeout=60, user=None, password=None, settings=None):
        """Runs `sql` over HTTP (POST body `data` appended when given; `settings` as URL
        parameters, as 18.16 wants them); the answer as text. Raises RuntimeError with the
        server's message on an error."""
        params = {"query": sql} if data is not None else {}
        params.update(settings or {})
        body = data if data is not None else sql.encode()
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(params), data=body)
        if user:
            req.add_header("X-ClickHouse-User", user)
            req.add_header("X-ClickHouse-Key", password or "")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s: %s" % (sql[:80], e.read().decode(errors="replace").strip()))

    def run_script(self, text):
        """Runs each statement of an SQL script (split on ';' at line ends; '--' comments)."""
        stmt = []
        for line in text.splitlines():
            if line.strip().startswith("--"):
                continue
            stmt.append(line)
            if line.rstrip().endswith(";"):
                sql = "\n".join(stmt).strip().rstrip(";")
                stmt = []
                if sql:
                    self.query(sql)
        rest = "\n".join(stmt).strip()
        if rest:
            self.query(rest)

    def close(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
