"""Finding personal values in traffic, however they are encoded (pure, offline)."""
