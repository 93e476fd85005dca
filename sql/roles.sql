-- roles.sql: who may read and who may write the warehouse. Two group roles (NOLOGIN); people and
-- services log in as their own roles and are made members of one of them.
--
--   warehouse_reader  dashboards, analysts, BI tools. CONNECT to the database, USAGE on schema
--                     `analytics` and SELECT on every view and analytics object in it, today's
--                     (GRANT ... ON ALL TABLES) and tomorrow's (ALTER DEFAULT PRIVILEGES for the
--                     role running this file and for warehouse_loader, the two roles that create
--                     them). Nothing at all in schema `warehouse`: no base table, no staging, no
--                     quarantine (rejected_sales holds raw records as received). No CREATE in any
--                     schema or on the database, no INSERT/UPDATE/DELETE/TRUNCATE anywhere.
--   warehouse_loader  the pipeline (Dagster runs, `warehouse load`). CONNECT, CREATE and TEMPORARY
--                     on the database; USAGE and CREATE on both schemas; SELECT, INSERT, UPDATE,
--                     DELETE, TRUNCATE on the tables of `warehouse`; USAGE, SELECT, UPDATE on its
--                     sequences; EXECUTE on its functions; SELECT in `analytics`; the same on
--                     objects created later by the role running this file (default privileges).
--                     CREATE on the database is needed although the schemas exist: every process
--                     runs `CREATE SCHEMA IF NOT EXISTS` (sql/schema/000_schemas.sql, the IO
--                     manager) and PostgreSQL checks that privilege before it looks for the
--                     schema. TEMPORARY is for the load scripts' temporary tables.
--
-- Why a reader can read views over tables it cannot read: a view reads its tables with the rights
-- of the view's OWNER (PostgreSQL's default; security_invoker is not set on any view here). So a
-- view exposes exactly the columns and rows its SQL selects, and nothing else of `warehouse`.
-- Keep it that way: a view with security_invoker = true would be unreadable to warehouse_reader.
--
-- Ownership, and the intended production setup. Only an object's owner (or a member of the owning
-- role) may run CREATE OR REPLACE VIEW/FUNCTION, CREATE INDEX or ALTER TABLE on it, and the
-- pipeline re-creates a view whenever its SQL file changes and applies schema changes. So the
-- loader must own the objects: create the database, run this file as a superuser BEFORE the
-- first load (it then creates both schemas owned by warehouse_loader), and let the pipeline log
-- in as a member whose sessions run as the group role, so that everything it creates is owned by
-- warehouse_loader and any other loader login can replace it:
--
--     CREATE ROLE etl LOGIN PASSWORD '...';
--     GRANT warehouse_loader TO etl;
--     ALTER ROLE etl SET role = 'warehouse_loader';
--
-- If the schema was applied by another role (e.g. the superuser of docker-compose.yml), the grants
-- below still let the loader run every load step (the quarantine, fact_sales, the dimensions and
-- aggregates) and read the views, but the first run after a view's SQL file changed fails with
-- "must be owner of view" until the objects are handed over, e.g. for each table, view and
-- function of both schemas: ALTER ... OWNER TO warehouse_loader.
--
-- Readers, per person or tool:
--
--     CREATE ROLE alice LOGIN PASSWORD '...';
--     GRANT warehouse_reader TO alice;
--
-- Not covered: Dagster's own storage (DAGSTER_PG_URL) creates its tables in schema `public`, which
-- neither role may do; give it the database owner, or a database of its own. PUBLIC keeps the
-- TEMPORARY privilege on the database (PostgreSQL's default), so a reader can create temporary
-- tables, which are private to its session and cannot touch shared data; to forbid that too:
-- REVOKE TEMPORARY ON DATABASE <db> FROM PUBLIC (the loader has its own grant).
--
-- Run as a superuser, in the warehouse database: psql -v ON_ERROR_STOP=1 -d warehouse -f
-- sql/roles.sql, or `warehouse roles` with WAREHOUSE_DATABASE_URL naming a superuser.
-- Idempotent: it creates what is missing, re-grants, and revokes what the model excludes, so
-- running it again (after a schema change, say) converges. Roles are cluster-wide, grants are
-- per database: run it in every warehouse database. Role names are fixed here; nothing in it comes from input.

-- The group roles, if missing. A concurrent run in another database may create one between the
-- check and the CREATE: that is not an error.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warehouse_reader') THEN
        BEGIN
            CREATE ROLE warehouse_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        BEGIN
            CREATE ROLE warehouse_loader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

-- The database: its name is not known in advance, hence format() with %I (an identifier).
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO warehouse_reader, warehouse_loader', current_database());
    EXECUTE format('GRANT CREATE, TEMPORARY ON DATABASE %I TO warehouse_loader', current_database());
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM warehouse_reader', current_database());
END
$$;

-- The schemas, if missing (a fresh database), owned by the loader (see "Ownership" above). When
-- they exist, their owner is left as it is.
CREATE SCHEMA IF NOT EXISTS warehouse AUTHORIZATION warehouse_loader;
CREATE SCHEMA IF NOT EXISTS analytics AUTHORIZATION warehouse_loader;

-- Schema public: on PostgreSQL 14 and older every role (PUBLIC) may create objects in it, so a
-- reader could create tables, or functions that shadow built-ins for whoever has public first in
-- its search_path. PostgreSQL 15 and later no longer grant this; revoking it again is a no-op there.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$$;

-- warehouse_reader: analytics only, read only.
GRANT USAGE ON SCHEMA analytics TO warehouse_reader;
REVOKE CREATE ON SCHEMA analytics FROM warehouse_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO warehouse_reader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA analytics FROM warehouse_reader;
REVOKE ALL ON SCHEMA warehouse FROM warehouse_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA warehouse FROM warehouse_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA warehouse FROM warehouse_reader;
-- Objects created later in analytics, by the role running this file or by the loader.
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO warehouse_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE warehouse_loader IN SCHEMA analytics GRANT SELECT ON TABLES TO warehouse_reader;

-- warehouse_loader: writes the warehouse, builds the analytics layer.
GRANT USAGE, CREATE ON SCHEMA warehouse, analytics TO warehouse_loader;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA warehouse TO warehouse_loader;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA warehouse TO warehouse_loader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA warehouse TO warehouse_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO warehouse_loader;
-- Objects the role running this file creates later (a schema change applied by an admin).
-- Objects the loader creates are its own; only their readability by the reader (analytics) needs
-- a default, given above.
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA warehouse GRANT EXECUTE ON FUNCTIONS TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO warehouse_loader;
