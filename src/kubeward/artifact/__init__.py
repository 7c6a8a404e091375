"""Where bytes come from: registries, archives, OCI layouts, the Docker daemon, directories."""
