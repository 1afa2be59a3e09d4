"""The movies service, the first domain extracted from the monolith."""
