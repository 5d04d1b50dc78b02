"""Route modules, one per topic."""
