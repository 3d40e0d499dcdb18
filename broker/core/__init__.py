"""Bottom layer: errors, the typed configuration, the alert schemas, process helpers.

Imports nothing else of Faucon.
"""
