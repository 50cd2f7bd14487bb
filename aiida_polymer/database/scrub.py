"""What must not leave the site, and how it is taken out of a table and of an AiiDA archive.

Private are: the users' e-mail addresses (and names, institutions), the computers' hostnames, the remote work
directories, and the usernames in paths. In an AiiDA archive (a zip of ``metadata.json``, the SQLite database
``db.sqlite3`` and the repository files ``repo/<sha256>``) they live in:

- ``db_dbuser``: ``email``, ``first_name``, ``last_name``, ``institution``: the e-mail becomes
  ``user<N>@redacted.invalid`` (unique: the importer matches users by e-mail), the rest empty;
- ``db_dbauthinfo`` (only with ``include_authinfos``): SSH usernames and keys: the rows are deleted;
- ``db_dbcomputer``: ``hostname`` (``redacted-host``), ``metadata.workdir`` (e.g. ``/scratch/{username}/aiida``:
  ``[redacted]``), and any of the above in the label, description and metadata;
- ``db_dbnode.attributes``: a RemoteData's ``remote_path``, a CalcJob's ``remote_workdir``, a RemoteStashData's
  ``target_basepath`` (``[redacted]``), the scheduler's ``last_job_info`` (``job_owner``, the allocated machines
  and the raw scheduler output are removed); and anywhere else in the attributes, extras, labels, descriptions,
  logs, comments and group extras, as text;
- ``repo/<sha256>``: files (job scripts, scheduler output, logs) may name the work directory or the user: a changed
  file gets the key of its new content, and the ``repository_metadata`` of the nodes that refer to it follows.

The text scrub replaces every e-mail address, every known hostname (the computers', this machine's, where the
localhost computer's jobs ran, and those that program outputs name: psi4's ``Host:`` and ``called on`` lines) as a
whole name, every known work directory, and the known usernames
where they stand in a path (``/home/alice/``, ``~alice``, ``alice@host``) or alone (a
value ``alice``). Usernames are known from the site
(AuthInfo usernames, the user running the export) and from the paths themselves (``/home/<user>/``, and the
computers' ``workdir`` templates applied to the work directories). The database is rewritten with SQLite's
``secure_delete`` and vacuumed, so that nothing removed survives in free pages; the nodes whose attributes changed
lose their ``_aiida_hash`` extra (it no longer matches them). The result imports with ``verdi archive import``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REDACTED = "[redacted]"
HOST = "redacted-host"
EMAIL = "redacted@redacted.invalid"
USER = "redacted"
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
HOME_PATTERN = re.compile(r"/(?:home|Users|u)/([A-Za-z0-9._-]+)")
TRIVIAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}
# where programs print the machine they ran on (psi4: "Host: <name>", "tstart() called on <name>")
HOST_LINES = re.compile(r"^\s*Host:\s+([A-Za-z0-9][A-Za-z0-9.-]*)\s*$|\bcalled on ([A-Za-z0-9][A-Za-z0-9.-]*)", re.M)
PATH_ATTRIBUTES = ("remote_path", "remote_workdir", "target_basepath")
JOB_INFO_PRIVATE = ("job_owner", "allocated_machines", "allocated_machines_raw", "raw_data")


@dataclass
class Secrets:
    """The strings to take out: literal ones (e-mails, hostnames, work directories) and usernames in paths."""

    emails: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)

    def update(self, other: Secrets) -> None:
        for name in ("emails", "hosts", "paths", "users"):
            getattr(self, name).update(getattr(other, name))

    def add_hosts_from(self, text: str) -> None:
        """The machines a program's output names (:data:`HOST_LINES`): compute nodes, this machine."""
        self.hosts.update(name for match in HOST_LINES.findall(text) for name in match if name)

    def add_paths(self, paths, templates=()) -> None:
        """Work directories, and the usernames they reveal (``/home/<user>``, the computers' workdir templates)."""
        patterns = [_template(t) for t in templates if t and "{username}" in t]
        for path in paths:
            if not path:
                continue
            self.paths.add(path.rstrip("/") or path)
            self.users.update(HOME_PATTERN.findall(path))
            for pattern in patterns:
                match = pattern.match(path)
                if match:
                    self.users.add(match["user"])

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if not text:
            return text
        if text in self.users:  # a username on its own (a job's account, a user field)
            return USER
        for path in sorted(self.paths, key=len, reverse=True):
            text = text.replace(path, REDACTED)
        for email in sorted(self.emails, key=len, reverse=True):
            text = text.replace(email, EMAIL)
        text = EMAIL_PATTERN.sub(EMAIL, text)
        for host in sorted(self.hosts - TRIVIAL_HOSTS, key=len, reverse=True):  # whole names only ("vm", not "nvme")
            text = re.sub(rf"(?<![\w-]){re.escape(host)}(?![\w-])", HOST, text)
        for user in sorted(u for u in self.users if u and u != USER):
            text = re.sub(rf"(?<=[/~]){re.escape(user)}(?=[/\s\"':]|$)|{re.escape(user)}(?=@)", USER, text)
        return text

    def value(self, value):
        """A JSON value with every string (and key) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        return value

    def data(self, content: bytes) -> bytes:
        """File content scrubbed: as text where it is UTF-8, else the literal secrets as bytes."""
        try:
            return self.text(content.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            for secret, token in [
                *((p, REDACTED) for p in self.paths),
                *((e, EMAIL) for e in self.emails),
                *((h, HOST) for h in self.hosts - TRIVIAL_HOSTS if len(h) >= 6),  # a short name: random bytes too
            ]:
                content = content.replace(secret.encode(), token.encode())
            return content


def _template(workdir: str) -> re.Pattern:
    head, _, tail = workdir.partition("{username}")
    return re.compile(re.escape(head) + r"(?P<user>[^/]+)" + re.escape(tail.split("{")[0]))


def site_secrets() -> Secrets:
    """What the loaded profile knows of its users, computers and their usernames (for tables and archives)."""
    from aiida import orm

    secrets = Secrets(users={getpass.getuser(), Path.home().name} - {""},
                      hosts={socket.gethostname(), socket.getfqdn()})  # where the localhost computer's jobs ran
    secrets.emails.update(orm.QueryBuilder().append(orm.User, project="email").all(flat=True))
    templates = []
    for hostname, metadata in orm.QueryBuilder().append(orm.Computer, project=["hostname", "metadata"]).all():
        secrets.hosts.add(hostname)
        templates.append((metadata or {}).get("workdir") or "")
    secrets.add_paths([t.split("{")[0] for t in templates if t.split("{")[0] not in ("", "/")])
    for params in orm.QueryBuilder().append(orm.AuthInfo, project="auth_params").all(flat=True):
        if (params or {}).get("username"):
            secrets.users.add(params["username"])
    paths = (
        orm.QueryBuilder()
        .append(
            orm.Node,
            filters={"or": [{"attributes": {"has_key": name}} for name in PATH_ATTRIBUTES]},
            project=[f"attributes.{name}" for name in PATH_ATTRIBUTES],
        )
        .all()
    )
    secrets.add_paths([p for row in paths for p in row if isinstance(p, str)], templates)
    return secrets


def _archive_secrets(db: sqlite3.Connection) -> Secrets:
    secrets = Secrets()
    secrets.emails.update(row[0] for row in db.execute("SELECT email FROM db_dbuser"))
    templates = []
    for hostname, metadata in db.execute("SELECT hostname, metadata FROM db_dbcomputer"):
        secrets.hosts.add(hostname)
        templates.append((json.loads(metadata or "{}") or {}).get("workdir") or "")
    for (params,) in db.execute("SELECT auth_params FROM db_dbauthinfo"):
        if (json.loads(params or "{}") or {}).get("username"):
            secrets.users.add(json.loads(params)["username"])
    paths = []
    for (attributes,) in db.execute("SELECT attributes FROM db_dbnode"):
        attributes = json.loads(attributes or "{}") or {}
        paths += [attributes[name] for name in PATH_ATTRIBUTES if isinstance(attributes.get(name), str)]
    secrets.add_paths(paths, templates)
    return secrets


def scrub_archive(path: str | Path, extra: Secrets | None = None) -> Secrets:
    """Rewrite the archive at ``path`` without what must not leave the site (see the module docstring); returns
    the secrets that were taken out."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "db.sqlite3")
        with zipfile.ZipFile(path) as source:
            infos = source.infolist()
            with source.open("db.sqlite3") as handle, open(db_path, "wb") as out:
                shutil.copyfileobj(handle, out)
            db = sqlite3.connect(db_path)
            db.execute("PRAGMA secure_delete = ON")
            secrets = _archive_secrets(db)
            if extra:
                secrets.update(extra)
            for info in infos:
                if info.filename.startswith("repo/") and not info.is_dir():
                    secrets.add_hosts_from(source.read(info).decode("utf-8", errors="replace"))
            renamed = {}
            blobs = {}
            for info in infos:
                if info.filename.startswith("repo/") and not info.is_dir():
                    content = source.read(info)
                    clean = secrets.data(content)
                    key = info.filename[5:]
                    if clean != content:
                        new = hashlib.sha256(clean).hexdigest()
                        renamed[key] = new
                        key = new
                    blobs.setdefault(key, (clean, info))
            _scrub_database(db, secrets, renamed)
            db.commit()
            db.execute("VACUUM")
            db.close()
            target = path.with_name(path.name + ".tmp")
            with zipfile.ZipFile(target, "w") as out:
                written = set()
                for info in infos:
                    if info.filename == "db.sqlite3":
                        out.write(db_path, "db.sqlite3", compress_type=info.compress_type)
                    elif info.filename.startswith("repo/") and not info.is_dir():
                        key = renamed.get(info.filename[5:], info.filename[5:])
                        if key not in written:
                            written.add(key)
                            out.writestr(_info(info, f"repo/{key}"), blobs[key][0])
                    elif info.filename == "metadata.json":
                        text = secrets.text(source.read(info).decode("utf-8"))
                        out.writestr(_info(info, info.filename), text.encode("utf-8"))
                    else:
                        out.writestr(_info(info, info.filename), source.read(info))
        os.replace(target, path)
    return secrets


def _info(info: zipfile.ZipInfo, name: str) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(name, date_time=info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    return new


def _json(text):
    return None if text is None else json.loads(text)


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value)


def _scrub_database(db: sqlite3.Connection, secrets: Secrets, renamed: dict[str, str]) -> None:
    for n, (pk,) in enumerate(db.execute("SELECT id FROM db_dbuser ORDER BY id").fetchall(), start=1):
        db.execute(
            "UPDATE db_dbuser SET email = ?, first_name = '', last_name = '', institution = '' WHERE id = ?",
            (f"user{n}@redacted.invalid", pk),
        )
    db.execute("DELETE FROM db_dbauthinfo")
    for pk, label, description, metadata in db.execute(
        "SELECT id, label, description, metadata FROM db_dbcomputer"
    ).fetchall():
        metadata = secrets.value(_json(metadata) or {})
        if metadata.get("workdir"):
            metadata["workdir"] = REDACTED
        clean = secrets.text(label)
        db.execute(
            "UPDATE db_dbcomputer SET hostname = ?, label = ?, description = ?, metadata = ? WHERE id = ?",
            (HOST, clean if clean == label else f"{clean}-{pk}", secrets.text(description), _dump(metadata), pk),
        )
    rows = db.execute("SELECT id, label, description, attributes, extras, repository_metadata FROM db_dbnode")
    for pk, label, description, attributes, extras, repository in rows.fetchall():
        old = _json(attributes)
        new = secrets.value(old)
        if isinstance(new, dict):
            for name in PATH_ATTRIBUTES:
                if name in new:
                    new[name] = REDACTED
            if isinstance(new.get("source_list"), list) and "target_basepath" in new:
                new["source_list"] = [REDACTED for _ in new["source_list"]]
            if isinstance(new.get("last_job_info"), dict):
                new["last_job_info"] = {k: v for k, v in new["last_job_info"].items() if k not in JOB_INFO_PRIVATE}
        extras = secrets.value(_json(extras))
        if new != old and isinstance(extras, dict):
            extras.pop("_aiida_hash", None)
        repository = _rekey(_json(repository), renamed)
        db.execute(
            "UPDATE db_dbnode SET label = ?, description = ?, attributes = ?, extras = ?, "
            "repository_metadata = ? WHERE id = ?",
            (secrets.text(label), secrets.text(description), _dump(new), _dump(extras), _dump(repository), pk),
        )
    for pk, label, description, extras in db.execute(
        "SELECT id, label, description, extras FROM db_dbgroup"
    ).fetchall():
        db.execute(
            "UPDATE db_dbgroup SET label = ?, description = ?, extras = ? WHERE id = ?",
            (secrets.text(label), secrets.text(description), _dump(secrets.value(_json(extras))), pk),
        )
    for pk, message, metadata in db.execute("SELECT id, message, metadata FROM db_dblog").fetchall():
        db.execute(
            "UPDATE db_dblog SET message = ?, metadata = ? WHERE id = ?",
            (secrets.text(message), _dump(secrets.value(_json(metadata))), pk),
        )
    for pk, content in db.execute("SELECT id, content FROM db_dbcomment").fetchall():
        db.execute("UPDATE db_dbcomment SET content = ? WHERE id = ?", (secrets.text(content), pk))
    for pk, val, description in db.execute("SELECT id, val, description FROM db_dbsetting").fetchall():
        db.execute(
            "UPDATE db_dbsetting SET val = ?, description = ? WHERE id = ?",
            (_dump(secrets.value(_json(val))), secrets.text(description), pk),
        )


def _rekey(value, renamed: dict[str, str]):
    """``repository_metadata`` with the file keys of changed files replaced by their new ones."""
    if isinstance(value, dict):
        return {
            k: (renamed.get(v, v) if k == "k" and isinstance(v, str) else _rekey(v, renamed)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rekey(v, renamed) for v in value]
    return value


def scrub_rows(rows: list[dict], secrets: Secrets) -> list[dict]:
    """The table's rows with every string cell scrubbed."""
    return [{k: secrets.text(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
