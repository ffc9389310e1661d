#!/usr/bin/env python3
"""Error paths of live capture (`wirelens -i`).

Each fatal error: exit 1, exactly one stderr line starting "wirelens: ", nothing on
stdout, and the line says what went wrong:
  * -C without -w (as any user)                      -> mentions -C or -w
  * -i nosuchif0                                     -> "no such interface"
  * a bad BPF filter on -i lo (trailing and -f)      -> one line
  * an interface that is down (a veth end never brought up, in a throwaway
    namespace)                                       -> "is down"
  * -i lo as nobody without capabilities (setpriv)   -> mentions CAP_NET_RAW
And `-D` inside the throwaway namespace exits 0 and lists lo and the veth end.

Everything that opens an interface runs inside namespaces this test makes (no
traffic is sent at all). Without root only the first check runs, then exit 77.
Usage: test_live_errors.py --wirelens PATH [--samples DIR] [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import pcaputil  # noqa: E402
from netns import log  # noqa: E402

NOBODY = 65534
SETPRIV = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]


class DownNamespaces(netns.Namespaces):
    """Two namespaces and a veth pair whose ends stay down; only lo is up."""

    def __init__(self):
        super().__init__("lea", "leb")

    def configure(self, side, ifc, run):
        run(["ip", "link", "set", "lo", "up"])


def run_cmd(cmd, timeout=30):
    """(exit code or "timeout", stdout text, stderr lines)."""
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode(errors="replace"), \
            (e.stderr or b"").decode(errors="replace").splitlines()
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace").splitlines()


def fatal(f, what, cmd, needle=None):
    """The fatal-error contract; `needle`: text (or tuple of alternatives) the line holds."""
    rc, out, err = run_cmd(cmd)
    log("  %s: exit %s, stderr %r" % (what, rc, err))
    f.check(rc == 1, "%s: exit %s, want 1 (%s)" % (what, rc, " ".join(cmd)))
    f.check(len(err) == 1 and err[0].startswith("wirelens: "),
            "%s: want exactly one stderr line starting 'wirelens: ', got %r" % (what, err))
    f.check(out == "", "%s: stdout not empty: %r" % (what, out[:300]))
    if needle is not None and err:
        alts = needle if isinstance(needle, tuple) else (needle,)
        f.check(any(a in err[0] for a in alts), "%s: %r does not mention %s" %
                (what, err[0], " or ".join(repr(a) for a in alts)))


def main():
    ap = pcaputil.arguments()
    args = ap.parse_args()
    wl = os.path.abspath(args.wirelens)
    f = pcaputil.Failures("test_live_errors")

    # As any user: the option check comes before any interface is opened.
    fatal(f, "-C without -w", [wl, "-i", "lo", "-C", "1"], ("-C", "-w"))

    if os.geteuid() != 0:
        if f.finish():
            return 1
        pcaputil.skip("the interface checks need root (network namespaces, capabilities)")
    for tool in ("ip", "setpriv"):
        if shutil.which(tool) is None:
            f.fail("'%s' not installed" % tool)
            return f.finish()

    def on_signal(signum, _frame):
        raise SystemExit("interrupted by signal %d" % signum)  # runs the clean-up below

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(300)
    nsx = DownNamespaces()
    tmp = None
    try:
        nsx.setup()
        down = nsx.ifs[0]
        ns = lambda cmd: nsx.exec_cmd(0, cmd)  # noqa: E731

        fatal(f, "unknown interface", ns([wl, "-i", "nosuchif0"]), "no such interface")
        fatal(f, "unknown interface (--json)", ns([wl, "-i", "nosuchif0", "--json"]),
              "no such interface")
        fatal(f, "bad trailing filter", ns([wl, "-i", "lo", "tcp", "port"]))
        fatal(f, "bad -f filter", ns([wl, "-i", "lo", "--json", "-f", "tcp port"]))
        fatal(f, "-C without -w (root)", ns([wl, "-i", "lo", "-C", "1"]), ("-C", "-w"))
        fatal(f, "interface down", ns([wl, "-i", down]), "is down")
        fatal(f, "interface down (--json -w)",
              ns([wl, "-i", down, "--json", "-w", os.path.join(tempfile.gettempdir(),
                                                               "wl-never-%d.pcap" % os.getpid())]),
              "is down")

        # No privileges: nobody, every capability gone. nobody must be able to run the
        # binary at all, or the error would be the exec's, not wirelens'.
        exe = wl
        rc, _, _ = run_cmd(SETPRIV + [exe, "--version"])
        if rc != 0:
            tmp = tempfile.mkdtemp(prefix="wl-errors-")
            os.chmod(tmp, 0o755)
            exe = os.path.join(tmp, "wirelens")
            shutil.copy(wl, exe)
            os.chmod(exe, 0o755)
            rc, _, err = run_cmd(SETPRIV + [exe, "--version"])
            f.check(rc == 0, "nobody cannot run %s: exit %s %r" % (exe, rc, err))
        fatal(f, "no privileges", ns(SETPRIV + [exe, "-i", "lo"]), "CAP_NET_RAW")
        fatal(f, "no privileges (--json)", ns(SETPRIV + [exe, "-i", "lo", "--json"]),
              "CAP_NET_RAW")

        rc, out, err = run_cmd(ns([wl, "-D"]))
        log("  -D: exit %s, stdout %r, stderr %r" % (rc, out[:500], err))
        def named(name):  # "lo", "1.lo [Up, ...]", "lo: 127.0.0.1" but not "Loopback"
            return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(name), out) is not None
        f.check(rc == 0 and named("lo") and named(down),
                "-D: exit %s, want 0 and lines naming lo and %s: %r %r" % (rc, down, out, err))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        f.fail("set-up or run failed: %s" % e)
    finally:
        signal.alarm(0)
        left = nsx.teardown()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if left:
            f.fail("namespaces left behind: %r" % left)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())
