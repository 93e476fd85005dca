"""PostgreSQL URLs as text: which driver they name, which database, and how they are shown.

Pure string functions, so that the settings, the database layer and the CLI share one spelling
of each rule (the psycopg2 driver for Dagster's storage, masking of every password form).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit


def with_driver(url: str, driver: str | None) -> str:
    """Rewrite a postgres URL's scheme to `postgresql+<driver>://` (or plain for None)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {mask_url(url)}")
    scheme = "postgresql" if driver is None else f"postgresql+{driver}"
    return urlunsplit((scheme, *parts[1:]))


def libpq_url(url: str) -> str:
    """A URL psycopg 3 / libpq understands: no SQLAlchemy driver suffix."""
    return with_driver(url, None)


def dagster_storage_url(url: str) -> str:
    """The URL for Dagster's instance storage, always with the psycopg2 driver.

    SQLAlchemy 2.1 maps a bare postgresql:// URL to psycopg 3, with which dagster-postgres
    fails on `NOTIFY run_events, $1`; naming the driver avoids it.
    """
    return with_driver(url, "psycopg2")


# libpq parameters whose values are secrets: the password, and the one of an SSL client key.
_SECRET_PARAMETERS = ("password", "sslpassword")
# A secret in a libpq key=value string: `password=value`, the value bare or single-quoted.
_SECRET_KEYWORD = re.compile(r"(?<![\w])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for printing and logging.

    Also masks the password (and sslpassword) given as a query parameter, and in a libpq
    key=value string (`host=... password=...`), which is not a URL but may be given by mistake
    and is then quoted in error messages. Any other URL (a webhook's) keeps only its scheme and
    host, since its path is often the secret.
    """
    if not _URL_SCHEME.match(url):
        return _SECRET_KEYWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    if not parts.scheme.lower().startswith("postgres"):
        return urlunsplit(
            (parts.scheme, parts.netloc.rsplit("@", 1)[-1], "/***" if parts.path.strip("/") else "", "", "")
        )
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}"
    query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMETERS else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def replace_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database), parts.query, parts.fragment))


def socket_url(database: str, socket_dir: str, port: int | None, user: str = "postgres") -> str:
    """A URL for a server listening on a Unix socket only (the embedded one)."""
    query = {"host": socket_dir}
    if port and port != 5432:
        query["port"] = str(port)
    return f"postgresql://{quote(user)}@/{quote(database)}?{urlencode(query)}"
