"""specimen."""
