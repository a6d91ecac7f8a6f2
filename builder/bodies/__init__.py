"""Body models, body shapes, skin sites and compiled per-shape assets."""
