"""Kafka: the local KRaft broker, SASL, topics, users, credentials, jars, replay and consume."""
