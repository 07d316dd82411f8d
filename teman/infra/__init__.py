"""Production infrastructure glue: URL splitting for Rasa's stores, log redaction, Redis
rate limits. Standard library only (plus redis where used), so both virtual environments
(Rasa's and the decision service's) can import it."""
