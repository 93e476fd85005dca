-- dim_date_row(day): the dim_date row for a calendar day. Written once here and used by every
-- statement that adds days (the sales load adds the days it sees, the dim_date asset fills gaps).
CREATE OR REPLACE FUNCTION warehouse.dim_date_row(day date)
RETURNS warehouse.dim_date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (to_char(day, 'YYYYMMDD'))::integer,
           day,
           extract(year FROM day)::smallint,
           extract(quarter FROM day)::smallint,
           extract(month FROM day)::smallint,
           trim(to_char(day, 'Month')),
           extract(day FROM day)::smallint,
           extract(isodow FROM day)::smallint,
           trim(to_char(day, 'Day')),
           extract(week FROM day)::smallint,
           extract(isodow FROM day) IN (6, 7)
$$;
