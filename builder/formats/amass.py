"""AMASS reader (being written)."""
