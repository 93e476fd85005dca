-- The server's version, for the benchmark's report.
SHOW server_version
