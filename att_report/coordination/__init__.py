"""coordination stage."""
