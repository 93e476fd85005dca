-- dim_date: one row per calendar day (UTC), generated to cover every transaction date and
-- extended when later or earlier sales arrive. date_key is YYYYMMDD.
CREATE TABLE IF NOT EXISTS warehouse.dim_date (
    date_key     integer PRIMARY KEY,
    full_date    date NOT NULL UNIQUE,
    year         smallint NOT NULL,
    quarter      smallint NOT NULL,
    month        smallint NOT NULL,
    month_name   text NOT NULL,
    day          smallint NOT NULL,
    day_of_week  smallint NOT NULL,  -- ISO: Monday = 1 ... Sunday = 7
    day_name     text NOT NULL,
    week_of_year smallint NOT NULL,  -- ISO week
    is_weekend   boolean NOT NULL
);
