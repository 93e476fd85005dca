"""Every database test gets a real PostgreSQL and a database of its own (see support.databases);
the fixtures are defined once, in support.fixtures."""

pytest_plugins = [
    "warehouse_assets_tests.support.fixtures",
    "warehouse_assets_tests.support.roles",
    "warehouse_assets_tests.support.browser",
    "warehouse_assets_tests.support.deployment",
]
