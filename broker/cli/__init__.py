"""The faucon command line: one module per command group."""
