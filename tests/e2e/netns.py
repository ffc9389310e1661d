"""Network namespaces for the live tests: two namespaces joined by a veth pair
made inside them, processes started in them, and a teardown that always
leaves nothing behind. A test subclasses Namespaces and says how each side is
configured (configure) and what must hold once both are (verify).
"""

import os
import signal
import subprocess
import time


def log(msg):
    print(msg, flush=True)


def sh(cmd, timeout=20, check=True):
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                p.stderr.decode(errors="replace").strip()))
    return p


def wait_for(path, text, proc, timeout=10):
    """Waits until the file at `path` contains `text`; False if `proc` exits first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                if text.encode() in f.read():
                    return True
        except OSError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


class Namespaces:
    """Namespaces wl-TAG-PID for the two tags, veth ends wTAGPID."""

    def __init__(self, tag0, tag1):
        pid = os.getpid()
        self.ns = ("wl-%s-%d" % (tag0, pid), "wl-%s-%d" % (tag1, pid))
        self.ifs = ("w%s%d" % (tag0, pid), "w%s%d" % (tag1, pid))
        self.procs = []
        self.created = []

    def exec_cmd(self, side, cmd):
        return ["ip", "netns", "exec", self.ns[side]] + cmd

    def configure(self, side, ifc, run):
        """Brings up side `side`'s interface `ifc`; `run(cmd)` runs in its namespace."""
        raise NotImplementedError

    def verify(self):
        """Checks what must hold once both sides are configured."""

    def setup(self):
        for ns in self.ns:
            sh(["ip", "netns", "add", ns])
            self.created.append(ns)
        # The veth ends are made inside the namespaces: they never exist in the host's.
        sh(["ip", "link", "add", self.ifs[0], "netns", self.ns[0], "type", "veth", "peer",
            "name", self.ifs[1], "netns", self.ns[1]])
        for side in (0, 1):
            self.configure(side, self.ifs[side],
                           lambda cmd, side=side: sh(self.exec_cmd(side, cmd)))
        self.verify()

    def spawn(self, side, cmd, **kw):
        p = subprocess.Popen(self.exec_cmd(side, cmd), **kw)
        self.procs.append(p)
        return p

    def teardown(self):
        """Stops every process, deletes the namespaces; returns any still listed."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in self.created:
            # Anything left in our own namespaces was started by this test.
            pids = sh(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            sh(["ip", "netns", "del", ns], check=False)
        self.created = []
        listed = sh(["ip", "netns", "list"], check=False).stdout.decode()
        return [ns for ns in self.ns if ns in listed]
