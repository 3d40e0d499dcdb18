"""The science portal and REST API (``faucon portal``): browse alerts, register filters, get
Kafka credentials, without a shell on the broker.  See ``docs/portal.md``."""
