"""gradtrace's viz: computation-graph drawings (to be filled by the viz issue)."""
