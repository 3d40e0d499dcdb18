"""The Spark session and the Kafka client options the Spark jobs share."""
