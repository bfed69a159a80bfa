"""pgserver.py -- a private PostgreSQL 15 + PostGIS server for one test or bench run.

Debian's postgresql-15 and postgresql-15-postgis-3 (scripts/install-deps.sh):
initdb in a temporary folder, pg_ctl start with no TCP (listen_addresses
empty), the socket in that folder; trust authentication for the postgres
role. As root the server runs as the unprivileged `postgres` user (initdb
refuses root) through runuser. stop() stops it (immediate) and removes the
folder; call it in a finally.
"""
import os
import pwd
import shutil
import subprocess
import tempfile

PGBIN = "/usr/lib/postgresql/15/bin"


class Server:
    def __init__(self, parent=None):
        self.dir = tempfile.mkdtemp(prefix="mly-pg-", dir=parent or "/tmp")
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.started = False

    def _as_server(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def start(self):
        for tool in ("initdb", "pg_ctl"):
            if not os.access(os.path.join(PGBIN, tool), os.X_OK):
                raise RuntimeError("%s/%s missing: run scripts/install-deps.sh" % (PGBIN, tool))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        subprocess.run(self._as_server([PGBIN + "/initdb", "-D", self.data, "-A", "trust", "-U",
                                        "postgres", "-E", "UTF8", "--no-sync", "--locale=C"]),
                       check=True, capture_output=True)
        opts = "-c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off" % self.sock
        subprocess.run(self._as_server([PGBIN + "/pg_ctl", "-D", self.data, "-o", opts, "-w",
                                        "-l", os.path.join(self.dir, "log"), "start"]),
                       check=True, capture_output=True)
        self.started = True
        self.psql("CREATE EXTENSION postgis")

    def conninfo(self):
        return "dbname=postgres host=%s user=postgres" % self.sock

    def psql(self, sql, check=True):
        """Run sql; rows as lists of text (unaligned, tab-separated)"""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-U", "postgres", "-d", "postgres", "-c", sql],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql, r.stderr.strip()))
        return [l.split("\t") for l in r.stdout.splitlines() if l != ""]

    def session(self):
        """An open psql session (stdin a pipe) for holding locks"""
        return subprocess.Popen(["psql", "-X", "-q", "-h", self.sock, "-U", "postgres", "-d", "postgres"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True)

    def stop(self):
        if self.started:
            subprocess.run(self._as_server([PGBIN + "/pg_ctl", "-D", self.data, "-m", "immediate",
                                            "-w", "stop"]), capture_output=True)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
