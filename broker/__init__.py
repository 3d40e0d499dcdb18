"""Faucon: a real-time alert broker for astronomical survey streams."""

__version__ = "0.1.0"
