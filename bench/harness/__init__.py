"""The benchmark harness: database, servers, workers, CPU samplers, machine facts, load
generators (wrk, pgbench) and JSON results. Scenarios (bench/scenarios/) are built on it."""
