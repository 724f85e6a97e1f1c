"""The service shell: settings, storage, the HTTP API, jobs and the command line."""

VERSION = "0.1.0"
