"""Tools that build, run and check the labs; nothing here is imported by a notebook.

The helper package the labs call is :mod:`labs_common`. This package holds what makes
and checks the course around it.
"""
