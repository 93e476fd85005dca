# syntax=docker/dockerfile:1
# One image for the three Dagster services of docker-compose.yml: the user-code server (which
# also executes the runs), the webserver and the daemon. Build: docker compose build
FROM python:3.11-slim

# DAGSTER_HOME: Dagster's instance folder; the repository's dagster.yaml is copied into it below.
# WAREHOUSE_STATE_DIR: the warehouse's own state folder (for the embedded server, unused when
# WAREHOUSE_DATABASE_URL is set), kept out of the read-only application folder.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    WAREHOUSE_STATE_DIR=/opt/dagster/state

WORKDIR /opt/dagster/app

# The package, installed editable (-e) on purpose: settings.PROJECT_DIR is the folder above the
# package and the SQL files are read from PROJECT_DIR/sql, so the code must stay here next to
# sql/ and data/ instead of being copied into site-packages. README.m[d] matches README.md
# when it exists (pyproject.toml names it) without failing the build when it does not.
COPY pyproject.toml README.m[d] ./
COPY warehouse_assets ./warehouse_assets
RUN pip install -e .

COPY sql ./sql
COPY data ./data
# workspace.yaml stays in the working directory (`-w workspace.yaml`); dagster.yaml goes into
# DAGSTER_HOME, followed by its PostgreSQL storage (as `warehouse` writes it), where every
# Dagster process of the image reads its instance configuration.
COPY workspace.yaml ./
COPY dagster.yaml ${DAGSTER_HOME}/dagster.yaml
RUN cat warehouse_assets/cli/instance_storage.yaml >> ${DAGSTER_HOME}/dagster.yaml

# A non-root user that owns only the folders written at run time: DAGSTER_HOME (storage/ is
# the compute-log volume), the state folder and the landing folder (mount point of the
# `landing` volume; an empty named volume takes this folder's owner).
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir ${DAGSTER_HOME} --no-create-home dagster \
    && mkdir -p ${DAGSTER_HOME}/storage ${WAREHOUSE_STATE_DIR} /opt/dagster/landing \
    && chown -R dagster:dagster ${DAGSTER_HOME} ${WAREHOUSE_STATE_DIR} /opt/dagster/landing
USER dagster

# 3000: webserver, 4000: code server. docker-compose.yml sets each service's command.
EXPOSE 3000 4000
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]
