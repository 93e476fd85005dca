"""Reading the Docker deployment (docker-compose.yml, Dockerfile, .env.example) as the tests of
warehouse_assets_tests/test_deployment.py compare it with the project: parsers, the compose
file's helpers and module-wide fixtures."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import pytest
import yaml

from warehouse_assets_tests.support.paths import PROJECT_DIR

ROOT = PROJECT_DIR
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DAGSTER_YAML = ROOT / "dagster.yaml"
INSTANCE_STORAGE_YAML = ROOT / "warehouse_assets" / "cli" / "instance_storage.yaml"
WORKSPACE_YAML = ROOT / "workspace.yaml"

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
ALL_SERVICES = ("postgres", *DAGSTER_SERVICES)
GRPC_VARIABLES = {"DAGSTER_GRPC_HOST", "DAGSTER_GRPC_PORT"}
# Read by Dagster itself: materializations stored in batches (see cli/environment.py).
DAGSTER_VARIABLES = {"DAGSTER_EVENT_BATCH_SIZE"}
CHECKED_PREFIXES = ("WAREHOUSE_", "FAKESTORE_", "DAGSTER_")

# Compose interpolation: $$ (a literal $), ${NAME...} or $NAME.
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# --- Loading ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, Any]:
    return parse_dockerfile(DOCKERFILE.read_text())


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), (
            f".env.example line {number} is not NAME=value: {raw!r}"
        )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def parse_dockerfile(text: str) -> dict[str, Any]:
    """The instructions that matter here: FROM, ENV, WORKDIR, COPY, RUN, USER, in order."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)

    env: dict[str, str] = {}
    workdir = "/"
    copies: list[tuple[list[str], str]] = []  # (sources, absolute destination)
    runs: list[str] = []
    base, user = None, None
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            base = rest.split()[0]
        elif keyword == "ENV":
            words = shlex.split(rest)
            if words and "=" not in words[0]:  # legacy form: ENV NAME value
                env[words[0]] = " ".join(words[1:])
            else:
                env.update(word.split("=", 1) for word in words)
        elif keyword == "WORKDIR":
            workdir = join(workdir, expand(rest, env))
        elif keyword in ("COPY", "ADD"):
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            *sources, dest = words
            copies.append((sources, join(workdir, expand(dest, env))))
        elif keyword == "RUN":
            runs.append(rest)
        elif keyword == "USER":
            user = rest
    return {
        "base": base,
        "env": env,
        "workdir": workdir,
        "copies": copies,
        "runs": runs,
        "user": user,
    }


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), value)


def join(base: str, path: str) -> str:
    joined = path if path.startswith("/") else f"{base.rstrip('/')}/{path}"
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        parts.append(part)
    return "/" + "/".join(parts)


# --- Compose helpers --------------------------------------------------------------------------


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert command, "service has no command"
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def option(argv: list[str], *flags: str) -> str | None:
    for index, word in enumerate(argv):
        if word in flags and index + 1 < len(argv):
            return argv[index + 1]
        for flag in flags:
            if flag.startswith("--") and word.startswith(flag + "="):
                return word.split("=", 1)[1]
    return None


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """The service's `environment:`; None marks a name passed through from the env file."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): None if v is None else str(v) for k, v in raw.items()}
    result: dict[str, str | None] = {}
    for entry in raw:
        name, sep, value = str(entry).partition("=")
        result[name] = value if sep else None
    return result


def env_files(service: dict[str, Any]) -> list[str]:
    raw = service.get("env_file") or []
    entries = [raw] if isinstance(raw, (str, dict)) else list(raw)
    return [entry["path"] if isinstance(entry, dict) else str(entry) for entry in entries]


def effective_env(service: dict[str, Any], env_example: dict[str, str]) -> dict[str, str]:
    """What the container sees: the env file (.env, a copy of .env.example), then environment:."""
    assert env_files(service) == [".env"], "services read their credentials from .env"
    merged = dict(env_example)
    for name, value in environment(service).items():
        merged[name] = env_example.get(name, "") if value is None else value
    return merged


def references(value: str) -> list[tuple[str, str]]:
    """(name, modifier) of every interpolation in a compose string; $$ is not one."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group(0) == "$$":
            continue
        found.append((match.group("braced") or match.group("bare"), match.group("modifier") or ""))
    return found


def interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        modifier = match.group("modifier") or ""
        current = variables.get(name)
        for prefix in (":-", "-"):
            if modifier.startswith(prefix):
                unset = current is None or (prefix == ":-" and current == "")
                return modifier[len(prefix) :] if unset else current  # type: ignore[return-value]
        assert current is not None, f"${{{name}}} is not defined"
        return current

    return _INTERPOLATION.sub(replace, value)


def strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def mounts(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(source, target, type) of each of the service's volumes; type is volume or bind."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = entry.get("source"), entry["target"]
            kind = entry.get("type", "volume")
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                source, target = None, parts[0]
            else:
                source, target = parts[0], parts[1]
            kind = "bind" if source and source[0] in "./~$" else "volume"
        mounts.append((source, target, kind))
    return mounts


def published_ports(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(host_ip, published, target) of each published port."""
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append((entry.get("host_ip"), str(entry.get("published")), str(entry["target"])))
            continue
        text = str(entry).split("/")[0]
        parts = text.rsplit(":", 2)
        if len(parts) == 3:
            ports.append((parts[0].strip("[]"), parts[1], parts[2]))
        elif len(parts) == 2:
            ports.append((None, parts[0], parts[1]))
        else:
            ports.append((None, "", parts[0]))
    return ports


def pyproject_dagster() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
