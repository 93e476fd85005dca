"""The shape of the project: its fixed top level, imports that go one way only, SQL only in
`sql/`, and CI running the README's own test command."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse_assets_tests.support.paths import PROJECT_DIR

PACKAGE = PROJECT_DIR / "warehouse_assets"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.parametrize(
    "path", ["workspace.yaml", "dagster.yaml", "pyproject.toml", "docker-compose.yml", "README.md", ".ci/run"]
)
def test_fixed_top_level_files_exist(path):
    assert (PROJECT_DIR / path).is_file()


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(root)},
    )


def test_imports_go_one_way_through_the_layers():
    result = lint_imports(PROJECT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/urls.py", "import psycopg", "Pure logic knows no Dagster and no database"),
        ("db/ledger.py", "import dagster", "The database layer knows no Dagster"),
        ("db/ledger.py", "from warehouse_assets.defs import jobs", "Layers: cli -> defs -> db -> core"),
        ("defs/jobs.py", "from warehouse_assets.cli import output", "Definitions never import the development tools"),
    ],
)
def test_an_import_against_the_layers_is_caught(tmp_path, module, line, contract):
    """The same check on a copy of the package with one import that breaks a contract."""
    shutil.copytree(PACKAGE, tmp_path / "warehouse_assets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_DIR / "pyproject.toml", tmp_path)
    target = tmp_path / "warehouse_assets" / module
    target.write_text(line + "\n" + target.read_text())
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert re.search(rf"{re.escape(contract)}\s+BROKEN", result.stdout), result.stdout


# Statements as this project writes them: upper-case keywords, anywhere in a string.
_SQL = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW|INDEX|SCHEMA|ROLE)"
    r"|ALTER\s+(TABLE|ROLE|DATABASE)|DROP\s+(TABLE|VIEW|SCHEMA|DATABASE)|TRUNCATE\s|COPY\s+\S+\s+(FROM|TO)|GRANT\s)",
    re.S,
)


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def test_sql_lives_in_sql_files_not_in_python_strings():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = _docstrings(tree)
        found += [
            f"{path.relative_to(PROJECT_DIR)}:{node.lineno}: {node.value.strip()[:60]}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in prose
            and _SQL.search(node.value)
        ]
    assert found == []


def test_ci_runs_the_test_command_the_readme_gives():
    readme = (PROJECT_DIR / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quickstart, re.M)
    assert "make test" in commands
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_the_readme_lists_every_setting_with_its_default():
    from warehouse_assets.core.settings import VARIABLES

    readme = (PROJECT_DIR / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", table, re.M))
    assert set(rows) == {v.name for v in VARIABLES}
    for v in VARIABLES:
        assert rows[v.name].strip() == (f"`{v.default}`" if v.default is not None else "—"), v.name
