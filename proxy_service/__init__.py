"""The Strangler Fig API gateway: one entry point that moves traffic from the monolith to services."""
