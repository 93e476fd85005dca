"""Source layouts: how to read a sales export that does not follow the standard CSV contract.

A shop's own export rarely has the contract's header. Rather than convert such files by hand, a
small YAML file in the layouts folder (default `data/layouts`) says how to read them: which files
it applies to, the CSV dialect, which cell values mean "empty", the date format and time zone,
how each contract column is computed from the source's columns (`expressions`), and which rows
are not sales at all (cancellations, fees) and with what reason code they are quarantined.
`spec` is the YAML model, `layout` the runtime object, `discovery` finds the layout of a file.
"""
