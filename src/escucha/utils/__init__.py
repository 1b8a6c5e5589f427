"""Small helpers shared across escucha (atomic writes, progress bars)."""
