"""The stages every alert goes through in the Python workers.

decode, normalize, quality, enrich, encode, distribute.
"""
