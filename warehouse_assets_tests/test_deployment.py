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
from urllib.parse import urlsplit

import yaml

from warehouse_assets.core.settings import VARIABLES
from warehouse_assets_tests.support.deployment import (
    ALL_SERVICES,
    CHECKED_PREFIXES,
    COMPOSE_FILE,
    DAGSTER_SERVICES,
    DAGSTER_VARIABLES,
    DAGSTER_YAML,
    DOCKERFILE,
    ENV_EXAMPLE,
    GRPC_VARIABLES,
    INSTANCE_STORAGE_YAML,
    ROOT,
    WORKSPACE_YAML,
    command_of,
    effective_env,
    env_files,
    environment,
    interpolate,
    mounts,
    option,
    published_ports,
    pyproject_dagster,
    references,
    strings,
)

# --- Topology ---------------------------------------------------------------------------------


def test_the_four_services_exist(services):
    missing = [name for name in ALL_SERVICES if name not in services]
    assert not missing, f"docker-compose.yml lacks services {missing}"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, target, kind in mounts(service):
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
    data_mounts = [m for m in mounts(postgres) if m[1] == "/var/lib/postgresql/data"]
    assert data_mounts and data_mounts[0][2] == "volume", "postgres data must be a named volume"
    assert env_files(postgres) == [".env"], "postgres takes its credentials from .env"


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
    argv = command_of(services["user_code"])
    assert argv[:3] == ["dagster", "code-server", "start"], argv
    module = option(argv, "-m", "--module-name")
    assert module == "warehouse_assets.definitions"
    assert module == pyproject_dagster()["module_name"]
    assert option(argv, "-h", "--host") == "0.0.0.0", "the code server must listen beyond loopback"
    port = option(argv, "-p", "--port")
    assert port and port.isdigit(), argv

    for name in DAGSTER_SERVICES:
        env = effective_env(services[name], env_example)
        assert env.get("DAGSTER_GRPC_PORT") == port, f"{name}: DAGSTER_GRPC_PORT != {port}"
        assert env.get("DAGSTER_GRPC_HOST") == "user_code", f"{name}: DAGSTER_GRPC_HOST"

    health = services["user_code"].get("healthcheck", {}).get("test")
    if health:
        health_argv = shlex.split(health) if isinstance(health, str) else list(map(str, health))
        if "-p" in health_argv:
            assert option(health_argv, "-p") == port, "health check probes another port"


def test_workspace_reads_the_grpc_address_from_the_environment():
    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    grpc = [entry["grpc_server"] for entry in workspace["load_from"] if "grpc_server" in entry]
    assert len(grpc) == 1, f"expected one grpc_server code location, got {workspace['load_from']}"
    server = grpc[0]
    assert server["host"] == {"env": "DAGSTER_GRPC_HOST"}
    assert server["port"] == {"env": "DAGSTER_GRPC_PORT"}
    assert isinstance(server.get("location_name"), str) and server["location_name"]
    assert server["location_name"] == pyproject_dagster()["code_location_name"]


def test_webserver_and_daemon_load_the_repository_workspace(services, dockerfile):
    assert WORKSPACE_YAML.is_file()
    webserver, daemon = command_of(services["webserver"]), command_of(services["daemon"])
    assert webserver[0] == "dagster-webserver"
    assert daemon[:2] == ["dagster-daemon", "run"]
    for name, argv in (("webserver", webserver), ("daemon", daemon)):
        assert option(argv, "-w", "--workspace") == "workspace.yaml", f"{name}: {argv}"
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
        value = effective_env(services[name], env_example).get("DAGSTER_HOME", home)
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
        env = effective_env(services[name], env_example)
        for variable, scheme in (
            ("DAGSTER_PG_URL", "postgresql+psycopg2"),
            ("WAREHOUSE_DATABASE_URL", "postgresql"),
        ):
            raw = env.get(variable)
            assert raw, f"{name}: {variable} is not set"
            assert raw.startswith(f"{scheme}://"), f"{name}: {variable} must use {scheme}://"
            url = urlsplit(interpolate(raw, env_example))
            assert url.hostname in services, f"{name}: {variable} names host {url.hostname}"
            assert url.hostname == "postgres"
            assert url.username == env_example["POSTGRES_USER"]
            assert url.password == env_example["POSTGRES_PASSWORD"]
            assert url.path.lstrip("/") == env_example["POSTGRES_DB"]


# --- Env file and secrets ---------------------------------------------------------------------


def test_every_service_reads_dot_env(services):
    for name in ALL_SERVICES:
        assert env_files(services[name]) == [".env"], f"{name} env_file: {env_files(services[name])}"


def test_env_example_defines_every_variable_the_compose_file_uses(compose, services, env_example):
    referenced = {name for text in strings(compose) for name, _ in references(text)}
    missing = sorted(referenced - set(env_example))
    assert not missing, f"docker-compose.yml interpolates {missing}, absent from .env.example"
    for name, service in services.items():
        passed = {k for k, v in environment(service).items() if v is None}
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
        for variable, value in environment(service).items():
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
    ports = published_ports(services["webserver"])
    assert ports, "the webserver publishes no port"
    ui_port = option(command_of(services["webserver"]), "-p", "--port")
    assert any(target == ui_port for _, _, target in ports), f"no published port reaches {ui_port}"
    for name, service in services.items():
        for host_ip, published, target in published_ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {published}:{target} beyond loopback"


# --- The project's own settings ---------------------------------------------------------------


def test_dagster_services_set_only_variables_the_project_reads(services, env_example, dockerfile):
    known = {variable.name for variable in VARIABLES} | GRPC_VARIABLES | DAGSTER_VARIABLES
    for name in DAGSTER_SERVICES:
        names = set(effective_env(services[name], env_example)) | set(dockerfile["env"])
        unknown = sorted(n for n in names if n.startswith(CHECKED_PREFIXES) and n not in known)
        assert not unknown, f"{name} sets {unknown}, which the project does not read"


def test_landing_folder_is_mounted_where_the_sensor_and_the_runs_execute(services, env_example):
    # Without a run_launcher the DefaultRunLauncher asks the code server to start each run, so runs
    # and sensor ticks both execute in user_code. A launcher that starts runs elsewhere (Docker,
    # Kubernetes...) needs the landing folder there too: revisit the mounts if this fails.
    instance = yaml.safe_load(DAGSTER_YAML.read_text())
    assert "run_launcher" not in instance, "runs no longer execute in user_code: revisit mounts"

    env = effective_env(services["user_code"], env_example)
    landing = env.get("WAREHOUSE_LANDING_DIR")
    assert landing and landing.startswith("/"), "user_code needs an absolute WAREHOUSE_LANDING_DIR"
    for name in DAGSTER_SERVICES:
        folder = environment(services[name]).get("WAREHOUSE_LANDING_DIR")
        if folder:
            targets = {target.rstrip("/") for _, target, _ in mounts(services[name])}
            assert folder.rstrip("/") in targets, f"{name}: nothing is mounted at {folder}"
    targets = {target.rstrip("/") for _, target, _ in mounts(services["user_code"])}
    assert landing.rstrip("/") in targets
