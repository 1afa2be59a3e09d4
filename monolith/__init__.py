"""The legacy CinemaAbyss monolith: users, movies, payments and subscriptions."""
