-- The limit, step 1: the file as it is, into the staging table.
COPY limit_staging FROM STDIN (FORMAT csv, HEADER true)
