// Package bench holds the delta-sync benchmarks that `make bench` runs (its code lives in
// _test.go files; this file only documents it).
//
// For each engine (DuckDB, PostgreSQL on a throwaway cluster) and segment size (default 1M and
// 10M customers), BenchmarkDelta generates a customers table in the warehouse, declares the
// model, segment, destination and activation in a SQLite catalog, brings the activation to a
// committed snapshot (a real full run up to DINMO_BENCH_FULL_RUN_MAX rows, the same SQL
// without sending above), changes 1% of the rows each way (inserted, deleted, updated), and
// then measures, each in a fresh process so memory and caches are not shared with the data
// generator:
//
//   - one plain scan of the segment query (the floor);
//   - every candidate diff strategy of package deltasql, and two ways of rewriting the whole
//     snapshot, as the SQL a run executes (evaluate, diff, stream the delta, checkpoint, fold)
//     on a copy of the same snapshot;
//   - a delta run of the real runner (runner.Run) to an in-process destination: wall time,
//     warehouse time, rows and requests sent, peak RSS (VmHWM) and peak Go memory; on DuckDB
//     once more with the source's memory_limit set to DINMO_BENCH_DUCKDB_MEMORY_LIMIT, since
//     the engine runs inside the runner's process and its memory is the runner's.
//
// DuckDB runs with the connector's default settings (memory_limit, threads: see package
// connectors/warehouse/duckdb) in every measured process: the runner's and the strategies'. A
// candidate strategy that fails under them (out of memory) is reported as failed and left out
// of the comparison; the runner's own delta run must succeed. The benchmark's own work on the
// warehouse (generating and changing the data, seeding, cloning and checking snapshots)
// stands for a user's warehouse jobs and runs with a memory_limit of 4GB.
//
// BenchmarkThroughput runs the real runner against the webhook platform with a rate limit
// and reports the achieved records per second against the limit.
//
// Environment:
//
//	DINMO_BENCH_SIZES           row counts, comma-separated (default 1000000,10000000)
//	DINMO_BENCH_ENGINES         duckdb,postgres (default both)
//	DINMO_BENCH_BATCH           destination batch size (default 1000)
//	DINMO_BENCH_REPEAT          timings per strategy and of the runner, best kept (default 3 up to
//	                            2M rows; above, 2 on DuckDB and 1 on PostgreSQL)
//	DINMO_BENCH_STRATEGIES      pipelines to time (default all; names as printed)
//	DINMO_BENCH_FULL_RUN_MAX    largest size brought to its snapshot by a real full run (default 1000000)
//	DINMO_BENCH_RATE            throughput benchmark: webhook requests_per_second (default 50)
//	DINMO_BENCH_RATE_BATCH      throughput benchmark: batch size (default 100)
//	DINMO_BENCH_RATE_ROWS       throughput benchmark: records sent (default 20000)
//	DINMO_BENCH_DUCKDB_MEMORY_LIMIT  the source's memory_limit in one more delta run per DuckDB
//	                            size (default 16GB, more than a run needs: what the connector's
//	                            default limit costs; off to skip)
//	DINMO_BENCH_OUT             also write the report (Markdown) to this file
//	TEST_PG_DSN, PGBIN          as for package internal/pgtest
package bench
