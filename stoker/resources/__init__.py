"""Measured profile files shipped with stoker (see README.md here for sources and licences)."""
