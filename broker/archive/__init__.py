"""The nightly archive.

Enriched topic to Parquet by survey and night, manifest, verify, replay, follow-up.
"""
