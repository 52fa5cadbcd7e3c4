"""The shared runtime: settings, logs, health, metrics, errors, the registry and the server."""
