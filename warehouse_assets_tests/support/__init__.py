"""What the tests share, defined once: databases, fixtures, the scripted HTTP server, job helpers,
the independent model of the rules (oracle), process supervisors and the browser."""
