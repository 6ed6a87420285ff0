"""Records to typed frames: the pinned schemas and shaping, and frame pieces built as pages arrive."""
