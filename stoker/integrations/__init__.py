"""Helpers that keep stoker's workers under training frameworks that rebuild a DataLoader (accelerate)."""
