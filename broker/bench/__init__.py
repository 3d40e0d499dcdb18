"""faucon bench: throughput, latency and component benchmarks against an in-run baseline."""
