"""The production stack: a ``core.psql_dos`` profile (Debian's PostgreSQL) with the ``core.rabbitmq`` broker.

The project's default profile (``aiida-polymer setup``) is SQLite + AiiDA's ZeroMQ broker: no services, one user,
small data. AiiDA's documentation recommends PostgreSQL + RabbitMQ for many daemon workers and large databases;
``aiida-polymer setup --production`` makes that profile:

- ``scripts/services.sh start`` starts PostgreSQL and RabbitMQ without systemd, on 127.0.0.1 only;
- a database role and database for the profile, the role's password generated here and written to a file only its
  owner can read (:func:`secret_path`, mode 600, next to AiiDA's ``config.json``, which AiiDA also needs it in;
  neither is in the repository, and nothing of it enters the provenance graph);
- the profile, its broker RabbitMQ's ``guest`` user (which RabbitMQ accepts on loopback only).

Everything here is idempotent: a second run finds the role, database and profile and says so.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICES = REPOSITORY / "scripts" / "services.sh"
PRODUCTION_PROFILE = "aiida-polymer-production"
HOST = "127.0.0.1"
PORT = 5432


class StackError(RuntimeError):
    """A service or database that cannot be started or made; the message says what to do."""


def services(action: str = "start", timeout: float = 300) -> str:
    """Run ``scripts/services.sh ACTION`` (start, stop, status, restart-rabbitmq); its output, or StackError."""
    try:
        done = subprocess.run(["bash", str(SERVICES), action], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StackError(f"scripts/services.sh {action} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise StackError(f"scripts/services.sh {action} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def packages_installed() -> bool:
    """Whether Debian's PostgreSQL and RabbitMQ are installed here (``scripts/system-deps.sh`` installs them)."""
    from shutil import which

    return bool(which("pg_lsclusters") and which("rabbitmqctl"))


def psql(sql: str, database: str = "postgres", port: int = PORT) -> str:
    """Run ``sql`` (read from stdin, so no password shows in a process list) as the ``postgres`` superuser, over
    its Unix socket (peer authentication: no password for it); tab-separated rows out."""
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else ["sudo", "-n", "-u", "postgres"]
    done = subprocess.run([*user, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-p", str(port), "-d", database,
                           "-f", "-"], input=sql, capture_output=True, text=True, cwd="/", timeout=120)
    if done.returncode != 0:
        raise StackError(f"psql as postgres failed: {done.stderr.strip()}")
    return done.stdout.strip()


_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def database_name(profile: str) -> str:
    """The role and database name of a profile: ``aiida_`` + the name in lower case, other characters ``_``."""
    name = "aiida_" + re.sub(r"[^a-z0-9_]", "_", profile.lower())
    return name[:63]


def secret_path(profile: str, config_dir: str | Path) -> Path:
    """Where the role's password of ``profile`` is kept: ``<config dir>/<profile>.db-secret``, mode 600."""
    return Path(config_dir) / f"{profile}.db-secret"


def read_or_make_secret(path: Path, password: str | None = None) -> tuple[str, bool]:
    """The password in ``path``, or ``password`` (a new one if None) written there, the file created mode 600 (never
    readable by others); (password, written)."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip(), False
    password = password or secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return password, True


@dataclass
class Database:
    name: str
    user: str
    password: str
    created: bool  # the role or database was made now

    def storage_config(self, repository: Path, host: str = HOST, port: int = PORT) -> dict:
        return {"database_engine": "postgresql_psycopg", "database_hostname": host, "database_port": port,
                "database_name": self.name, "database_username": self.user, "database_password": self.password,
                "repository_uri": repository.as_uri()}


def ensure_database(name: str, password: str, port: int = PORT) -> Database:
    """The role ``name`` (login, with ``password``: set again if it differs) and its database ``name`` (UTF-8,
    en_US.UTF-8 collation, as AiiDA makes them), created where missing."""
    if not _NAME.match(name):
        raise StackError(f"not a database name: {name!r}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", password):
        raise StackError("the password file holds characters other than [A-Za-z0-9_-]")
    created = False
    if not psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{name}'", port=port):
        psql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'", port=port)
        created = True
    else:
        psql(f"ALTER ROLE \"{name}\" LOGIN PASSWORD '{password}'", port=port)  # the file's password is the truth
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", port=port):
        psql(f"CREATE DATABASE \"{name}\" OWNER \"{name}\" ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' "
             f"LC_CTYPE 'en_US.UTF-8' TEMPLATE template0", port=port)
        created = True
    return Database(name, name, password, created)


def drop_database(name: str, port: int = PORT) -> None:
    """Drop the database and role ``name`` (for throwaway test profiles); connections to it are ended first."""
    if not _NAME.match(name):
        raise StackError(f"not a database name: {name!r}")
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'", port=port)
    psql(f"DROP DATABASE IF EXISTS \"{name}\"", port=port)
    psql(f"DROP ROLE IF EXISTS \"{name}\"", port=port)


RABBITMQ = {"broker_protocol": "amqp", "broker_username": "guest", "broker_password": "guest", "broker_host": HOST,
            "broker_port": 5672, "broker_virtual_host": ""}


@dataclass
class Production:
    profile: str
    database: Database
    secret: Path
    profile_created: bool
    services: str


def setup_production(profile: str = PRODUCTION_PROFILE, email: str = "aiida@localhost") -> Production:
    """Start the services and make (once) the role, database and ``core.psql_dos`` + ``core.rabbitmq`` profile
    ``profile`` in the current AiiDA configuration; the profile is not made the default."""
    from aiida.manage.configuration import create_profile, get_config

    if not packages_installed():
        raise StackError("PostgreSQL and RabbitMQ are not installed: run scripts/system-deps.sh (or make install)")
    started = services("start")
    config = get_config(create=True)
    secret = secret_path(profile, config.dirpath)
    created = profile not in config.profile_names
    if created:
        password, _ = read_or_make_secret(secret)
    else:  # the existing profile's password is the one that works
        stored = config.get_profile(profile)
        if stored.storage_backend != "core.psql_dos" or stored.process_control_backend != "core.rabbitmq":
            raise StackError(f"profile {profile!r} exists with {stored.storage_backend} storage and the "
                             f"{stored.process_control_backend} broker: choose another --profile-name")
        password = stored.storage_config["database_password"]
        if read_or_make_secret(secret, password)[0] != password:
            secret.unlink()
            read_or_make_secret(secret, password)
    database = ensure_database(database_name(profile), password)
    if created:
        default = config.default_profile_name
        create_profile(config, storage_backend="core.psql_dos",
                       storage_config=database.storage_config(Path(config.dirpath) / "repository" / profile),
                       broker_backend="core.rabbitmq", broker_config=dict(RABBITMQ), name=profile, email=email)
        if default is not None:
            config.set_default_profile(default, overwrite=True)
    # AiiDA warns on every command about RabbitMQ >= 3.8.15's consumer_timeout: services.sh disables it
    config.set_option("warnings.rabbitmq_version", False, scope=profile)
    config.store()
    config_file = Path(config.dirpath) / "config.json"  # AiiDA keeps the password there too
    if config_file.exists() and config_file.stat().st_mode & 0o077:
        config_file.chmod(0o600)
    return Production(profile, database, secret, created, started)
