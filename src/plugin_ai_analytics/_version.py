"""The package version, in one place: the API, the dashboard's asset URLs and logs read it here."""

__version__ = "0.1.0"
