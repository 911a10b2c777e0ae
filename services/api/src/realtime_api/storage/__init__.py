"""Reading the database as `rs_api`, through row-level security: the pool and its per-request
transactions, the queries, and the background snapshot of the aggregates."""
