"""The filter registry: a compacted Kafka topic of versioned filters, and backtests."""
