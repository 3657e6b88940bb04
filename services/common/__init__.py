"""Code shared by every alstream service: contracts, schemas, settings, observability.

Services import from here and never from each other.
"""
