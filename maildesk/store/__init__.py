"""Storage: engine set-up, the schema and the queries the stages need."""
