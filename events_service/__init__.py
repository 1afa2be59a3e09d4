"""The events service: publishes movie, user and payment events to Kafka and consumes them itself."""
