"""Shared kernel of the CinemaAbyss services: configuration, errors, JSON input, logging."""
