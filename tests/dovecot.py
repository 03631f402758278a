"""A private Dovecot IMAP server for the tests: a throwaway config and a passwd-file user in a
temporary directory, on a free port, run in the foreground (`-F`) as a child process.

As root (CI), Dovecot refuses to run its login processes as root: they run as Debian's
`dovenull` and the mail processes as `dovecot`, which own the temporary mail folders. As any
other user, everything runs as that user and its primary group, without chroot (which needs
root). Set HD_KEEP_DOVECOT=1 to keep the temporary directory (config, log) for a look.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

USER, PASSWORD = "soporte@bayit.example", "imap-test-secret"
SKIP_REASON = ("needs Debian's dovecot-imapd (apt-get install dovecot-imapd); "
               "CI installs it and sets HELPDESK_REQUIRE_IMAP=1")


def require_dovecot() -> str:
    """The dovecot binary; skip (or fail, when HELPDESK_REQUIRE_IMAP=1) without it."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot"
                                         if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        if os.environ.get("HELPDESK_REQUIRE_IMAP") == "1":
            pytest.fail("HELPDESK_REQUIRE_IMAP=1 but dovecot is not installed")
        pytest.skip(SKIP_REASON)
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(base: Path, port: int) -> str:
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
        group = mail_group = "dovecot"
    else:  # the user's own name and primary group (whose name may differ: nobody/nogroup)
        internal = login = mail_user = pwd.getpwuid(os.getuid()).pw_name
        group = mail_group = grp.getgrgid(os.getgid()).gr_name
    # chroot needs root: without it the login and anvil processes run unconfined (a test server)
    chroot = "" if os.geteuid() == 0 else "  chroot =\n"
    return f"""
base_dir = {base}/run
state_dir = {base}/state
instance_name = helpdesk-test-{port}
log_path = {base}/dovecot.log
protocols = imap
first_valid_uid = 1
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={base}/home/%u
}}
service anvil {{
{chroot}}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@contextmanager
def dovecot_server():
    """Start a private Dovecot; yields (host, port, user, password); stops and removes it."""
    binary = require_dovecot()
    base = Path(tempfile.mkdtemp(prefix="hd-imap-"))  # short: Dovecot's sockets live here
    base.chmod(0o755)
    port = _free_port()
    for sub in ("run", "state", "mail", "home"):
        (base / sub).mkdir()
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (base / "dovecot.conf").write_text(_config(base, port))
    if os.geteuid() == 0:
        for sub in ("mail", "home"):
            shutil.chown(base / sub, "dovecot", "dovecot")
    process = subprocess.Popen([binary, "-F", "-c", str(base / "dovecot.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, process, base)
        yield "127.0.0.1", port, USER, PASSWORD
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if not os.environ.get("HD_KEEP_DOVECOT"):
            shutil.rmtree(base, ignore_errors=True)


def _wait_for(port: int, process: subprocess.Popen, base: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (base / "dovecot.log").read_text() if (base / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {process.stdout.read().decode()} {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("dovecot did not answer within 20 s")
