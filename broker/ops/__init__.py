"""Running Faucon: status, Prometheus metrics, stream counters, the local Airflow."""
