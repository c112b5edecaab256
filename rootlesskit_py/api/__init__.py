"""The REST API on `$STATE/api.sock` (RootlessKit API 1.1.x): its JSON documents (schema), the
server rootlesskit runs, and the client rootlessctl and rootlesskit-docker-proxy use."""
