"""Cross-cutting platform pieces: health endpoints, system checks, the embedded database."""
