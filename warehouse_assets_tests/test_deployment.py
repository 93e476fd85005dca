"""The Docker deployment (docker-compose.yml, Dockerfile, .env.example) agrees with the project.

No Docker is needed: the files are parsed (pyyaml) and compared with what the code and the
instance configuration expect, so that a renamed variable, port or file breaks a test here
instead of a deployment:

* the stack is Dagster's documented topology: postgres, a user-code gRPC server, webserver, daemon;
* workspace.yaml finds the code server through DAGSTER_GRPC_HOST / DAGSTER_GRPC_PORT, and the
  compose file sets them to the user_code service and the port its command serves on;
* the image carries the repository's own dagster.yaml (in DAGSTER_HOME) and workspace.yaml, and
  dagster.yaml stores runs in PostgreSQL through DAGSTER_PG_URL with the psycopg2 driver;
* credentials come only from the env file, whose template lists every variable used;
* the UI is published on loopback only;
* every DAGSTER_/WAREHOUSE_/FAKESTORE_ variable given to the containers is one the project reads.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from warehouse_assets.core.settings import VARIABLES
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
    return _parse_env_file(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, Any]:
    return _parse_dockerfile(DOCKERFILE.read_text())


def _parse_env_file(text: str) -> dict[str, str]:
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


def _parse_dockerfile(text: str) -> dict[str, Any]:
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
            workdir = _join(workdir, _expand(rest, env))
        elif keyword in ("COPY", "ADD"):
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            *sources, dest = words
            copies.append((sources, _join(workdir, _expand(dest, env))))
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


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), value)


def _join(base: str, path: str) -> str:
    joined = path if path.startswith("/") else f"{base.rstrip('/')}/{path}"
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        parts.append(part)
    return "/" + "/".join(parts)


# --- Compose helpers --------------------------------------------------------------------------


def _argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert command, "service has no command"
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def _option(argv: list[str], *flags: str) -> str | None:
    for index, word in enumerate(argv):
        if word in flags and index + 1 < len(argv):
            return argv[index + 1]
        for flag in flags:
            if flag.startswith("--") and word.startswith(flag + "="):
                return word.split("=", 1)[1]
    return None


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """The service's `environment:`; None marks a name passed through from the env file."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): None if v is None else str(v) for k, v in raw.items()}
    result: dict[str, str | None] = {}
    for entry in raw:
        name, sep, value = str(entry).partition("=")
        result[name] = value if sep else None
    return result


def _env_files(service: dict[str, Any]) -> list[str]:
    raw = service.get("env_file") or []
    entries = [raw] if isinstance(raw, (str, dict)) else list(raw)
    return [entry["path"] if isinstance(entry, dict) else str(entry) for entry in entries]


def _effective_env(service: dict[str, Any], env_example: dict[str, str]) -> dict[str, str]:
    """What the container sees: the env file (.env, a copy of .env.example), then environment:."""
    assert _env_files(service) == [".env"], "services read their credentials from .env"
    merged = dict(env_example)
    for name, value in _environment(service).items():
        merged[name] = env_example.get(name, "") if value is None else value
    return merged


def _references(value: str) -> list[tuple[str, str]]:
    """(name, modifier) of every interpolation in a compose string; $$ is not one."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group(0) == "$$":
            continue
        found.append((match.group("braced") or match.group("bare"), match.group("modifier") or ""))
    return found


def _interpolate(value: str, variables: dict[str, str]) -> str:
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


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _mounts(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
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


def _published_ports(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
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


def _pyproject_dagster() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]


# --- Topology ---------------------------------------------------------------------------------


def test_the_four_services_exist(services):
    missing = [name for name in ALL_SERVICES if name not in services]
    assert not missing, f"docker-compose.yml lacks services {missing}"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, target, kind in _mounts(service):
            if kind == "volume" and source:
                assert source in declared, f"{name} mounts volume {source!r} at {target}, not declared under volumes:"


def test_depends_on_names_declared_services(services):
    for name, service in services.items():
        depends = service.get("depends_on") or []
        for target in depends:
            assert target in services, f"{name} depends on undeclared service {target!r}"


def test_postgres_is_pinned_persistent_and_health_checked(services):
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-[a-z0-9.]+)?", postgres["image"]), postgres["image"]
    health = postgres["healthcheck"]["test"]
    health_text = health if isinstance(health, str) else " ".join(map(str, health))
    assert "pg_isready" in health_text
    data_mounts = [m for m in _mounts(postgres) if m[1] == "/var/lib/postgresql/data"]
    assert data_mounts and data_mounts[0][2] == "volume", "postgres data must be a named volume"
    assert _env_files(postgres) == [".env"], "postgres takes its credentials from .env"


def test_dagster_services_share_one_image_built_here(services, dockerfile):
    images = {services[name].get("image") for name in DAGSTER_SERVICES}
    assert len(images) == 1 and None not in images, f"Dagster services use images {images}"
    for name in DAGSTER_SERVICES:
        build = services[name].get("build")
        assert build is not None, f"{name} is not built from the Dockerfile"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile_name).resolve() == DOCKERFILE.resolve()


def test_webserver_and_daemon_wait_for_postgres_and_user_code(services):
    for name in ("webserver", "daemon"):
        depends = services[name].get("depends_on") or {}
        assert "postgres" in depends and "user_code" in depends, f"{name} depends on {depends}"
        if isinstance(depends, dict):
            assert depends["postgres"].get("condition") == "service_healthy"


# --- Code location: user_code and workspace.yaml ---------------------------------------------


def test_user_code_serves_the_definitions_on_the_grpc_port_the_services_name(services, env_example):
    argv = _argv(services["user_code"])
    assert argv[:3] == ["dagster", "code-server", "start"], argv
    module = _option(argv, "-m", "--module-name")
    assert module == "warehouse_assets.definitions"
    assert module == _pyproject_dagster()["module_name"]
    assert _option(argv, "-h", "--host") == "0.0.0.0", "the code server must listen beyond loopback"
    port = _option(argv, "-p", "--port")
    assert port and port.isdigit(), argv

    for name in DAGSTER_SERVICES:
        env = _effective_env(services[name], env_example)
        assert env.get("DAGSTER_GRPC_PORT") == port, f"{name}: DAGSTER_GRPC_PORT != {port}"
        assert env.get("DAGSTER_GRPC_HOST") == "user_code", f"{name}: DAGSTER_GRPC_HOST"

    health = services["user_code"].get("healthcheck", {}).get("test")
    if health:
        health_argv = shlex.split(health) if isinstance(health, str) else list(map(str, health))
        if "-p" in health_argv:
            assert _option(health_argv, "-p") == port, "health check probes another port"


def test_workspace_reads_the_grpc_address_from_the_environment():
    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    grpc = [entry["grpc_server"] for entry in workspace["load_from"] if "grpc_server" in entry]
    assert len(grpc) == 1, f"expected one grpc_server code location, got {workspace['load_from']}"
    server = grpc[0]
    assert server["host"] == {"env": "DAGSTER_GRPC_HOST"}
    assert server["port"] == {"env": "DAGSTER_GRPC_PORT"}
    assert isinstance(server.get("location_name"), str) and server["location_name"]
    assert server["location_name"] == _pyproject_dagster()["code_location_name"]


def test_webserver_and_daemon_load_the_repository_workspace(services, dockerfile):
    assert WORKSPACE_YAML.is_file()
    webserver, daemon = _argv(services["webserver"]), _argv(services["daemon"])
    assert webserver[0] == "dagster-webserver"
    assert daemon[:2] == ["dagster-daemon", "run"]
    for name, argv in (("webserver", webserver), ("daemon", daemon)):
        assert _option(argv, "-w", "--workspace") == "workspace.yaml", f"{name}: {argv}"
    # The relative path resolves in the image's working directory: workspace.yaml must be there.
    workdir = dockerfile["workdir"]
    assert any(
        "workspace.yaml" in sources and dest in (workdir, f"{workdir}/workspace.yaml")
        for sources, dest in dockerfile["copies"]
    ), f"the Dockerfile does not copy workspace.yaml into WORKDIR {workdir}"


# --- Instance: dagster.yaml, DAGSTER_HOME, DAGSTER_PG_URL -------------------------------------


def test_dockerfile_puts_the_repository_dagster_yaml_in_dagster_home(services, dockerfile, env_example):
    home = dockerfile["env"].get("DAGSTER_HOME", "").rstrip("/")
    assert home, "the Dockerfile sets no DAGSTER_HOME"
    assert any(
        "dagster.yaml" in sources and dest.rstrip("/") in (home, f"{home}/dagster.yaml")
        for sources, dest in dockerfile["copies"]
    ), f"the Dockerfile does not copy dagster.yaml into DAGSTER_HOME ({home})"
    for name in DAGSTER_SERVICES:
        value = _effective_env(services[name], env_example).get("DAGSTER_HOME", home)
        assert value.rstrip("/") == home, f"{name}: DAGSTER_HOME {value} has no dagster.yaml"


def test_dockerfile_installs_the_project_editable_next_to_sql(dockerfile):
    assert dockerfile["base"] == "python:3.11-slim"
    assert any(re.search(r"pip install (.* )?-e \.(\s|$)", run) for run in dockerfile["runs"])
    copied = {source.rstrip("/") for sources, _ in dockerfile["copies"] for source in sources}
    for needed in ("pyproject.toml", "warehouse_assets", "sql", "data"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"
    assert dockerfile["user"] not in (None, "root", "0"), "the image must not run as root"


def test_dagster_home_stores_in_postgres_from_dagster_pg_url(dockerfile):
    # The instance in DAGSTER_HOME is the repository's dagster.yaml followed by the storage block,
    # in the image as `warehouse` writes it (cli/environment.py); the repository's file alone has
    # no storage, so Dagster's tools run in a bare checkout on a temporary instance.
    home = dockerfile["env"]["DAGSTER_HOME"].rstrip("/")
    assert any(
        re.search(
            rf"cat .*instance_storage\.yaml >> {re.escape(home)}/dagster\.yaml", run.replace("${DAGSTER_HOME}", home)
        )
        for run in dockerfile["runs"]
    ), "the Dockerfile does not add the storage block to DAGSTER_HOME/dagster.yaml"
    instance = yaml.safe_load(DAGSTER_YAML.read_text() + "\n" + INSTANCE_STORAGE_YAML.read_text())
    assert instance["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert "storage" not in yaml.safe_load(DAGSTER_YAML.read_text())


def test_database_urls_use_the_right_drivers_and_the_postgres_service(services, env_example):
    for name in DAGSTER_SERVICES:
        env = _effective_env(services[name], env_example)
        for variable, scheme in (
            ("DAGSTER_PG_URL", "postgresql+psycopg2"),
            ("WAREHOUSE_DATABASE_URL", "postgresql"),
        ):
            raw = env.get(variable)
            assert raw, f"{name}: {variable} is not set"
            assert raw.startswith(f"{scheme}://"), f"{name}: {variable} must use {scheme}://"
            url = urlsplit(_interpolate(raw, env_example))
            assert url.hostname in services, f"{name}: {variable} names host {url.hostname}"
            assert url.hostname == "postgres"
            assert url.username == env_example["POSTGRES_USER"]
            assert url.password == env_example["POSTGRES_PASSWORD"]
            assert url.path.lstrip("/") == env_example["POSTGRES_DB"]


# --- Env file and secrets ---------------------------------------------------------------------


def test_every_service_reads_dot_env(services):
    for name in ALL_SERVICES:
        assert _env_files(services[name]) == [".env"], f"{name} env_file: {_env_files(services[name])}"


def test_env_example_defines_every_variable_the_compose_file_uses(compose, services, env_example):
    referenced = {name for text in _strings(compose) for name, _ in _references(text)}
    missing = sorted(referenced - set(env_example))
    assert not missing, f"docker-compose.yml interpolates {missing}, absent from .env.example"
    for name, service in services.items():
        passed = {k for k, v in _environment(service).items() if v is None}
        missing = sorted(passed - set(env_example))
        assert not missing, f"{name} takes {missing} from the env file; .env.example lacks them"


def test_env_example_explains_each_variable():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert index > 0 and lines[index - 1].lstrip().startswith("#"), (
                f".env.example: no comment above {line.split('=')[0]}"
            )


def test_no_literal_password_in_the_compose_file(services, env_example):
    text = COMPOSE_FILE.read_text()
    for match in re.finditer(r"POSTGRES_PASSWORD\s*[:=]\s*(\S+)", text):
        assert match.group(1).strip("\"'").startswith("${"), f"literal password: {match.group(0)}"
    assert env_example["POSTGRES_PASSWORD"] not in text
    for name, service in services.items():
        for variable, value in _environment(service).items():
            if value is None:
                continue
            if re.search(r"PASSWORD|SECRET|TOKEN", variable):
                assert re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*[^}]*\}", value), (
                    f"{name}: {variable} must come from the env file"
                )
            url = re.match(r"[a-z0-9+.-]+://[^/@\s]*:(?P<password>[^@\s]*)@", value)
            if url:
                assert re.fullmatch(r"\$\{[^}]+\}", url.group("password")), (
                    f"{name}: {variable} has a literal password in its URL"
                )


# --- Exposure ---------------------------------------------------------------------------------


def test_the_ui_is_published_on_loopback_only(services):
    ports = _published_ports(services["webserver"])
    assert ports, "the webserver publishes no port"
    ui_port = _option(_argv(services["webserver"]), "-p", "--port")
    assert any(target == ui_port for _, _, target in ports), f"no published port reaches {ui_port}"
    for name, service in services.items():
        for host_ip, published, target in _published_ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {published}:{target} beyond loopback"


# --- The project's own settings ---------------------------------------------------------------


def test_dagster_services_set_only_variables_the_project_reads(services, env_example, dockerfile):
    known = {variable.name for variable in VARIABLES} | GRPC_VARIABLES | DAGSTER_VARIABLES
    for name in DAGSTER_SERVICES:
        names = set(_effective_env(services[name], env_example)) | set(dockerfile["env"])
        unknown = sorted(n for n in names if n.startswith(CHECKED_PREFIXES) and n not in known)
        assert not unknown, f"{name} sets {unknown}, which the project does not read"


def test_landing_folder_is_mounted_where_the_sensor_and_the_runs_execute(services, env_example):
    # Without a run_launcher the DefaultRunLauncher asks the code server to start each run, so runs
    # and sensor ticks both execute in user_code. A launcher that starts runs elsewhere (Docker,
    # Kubernetes...) needs the landing folder there too: revisit the mounts if this fails.
    instance = yaml.safe_load(DAGSTER_YAML.read_text())
    assert "run_launcher" not in instance, "runs no longer execute in user_code: revisit mounts"

    env = _effective_env(services["user_code"], env_example)
    landing = env.get("WAREHOUSE_LANDING_DIR")
    assert landing and landing.startswith("/"), "user_code needs an absolute WAREHOUSE_LANDING_DIR"
    for name in DAGSTER_SERVICES:
        folder = _environment(services[name]).get("WAREHOUSE_LANDING_DIR")
        if folder:
            targets = {target.rstrip("/") for _, target, _ in _mounts(services[name])}
            assert folder.rstrip("/") in targets, f"{name}: nothing is mounted at {folder}"
    targets = {target.rstrip("/") for _, target, _ in _mounts(services["user_code"])}
    assert landing.rstrip("/") in targets
