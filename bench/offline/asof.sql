-- The offline benchmark's limit probe: the same training set as
-- get_historical_features, written by hand for DuckDB. Each view's source is
-- first reduced to one row per (key, event time), the latest created time
-- winning (Feast's tie rule); an ASOF LEFT JOIN then takes each entity
-- row's latest feature row at or before its time, and the ttl is applied to
-- that row (the latest row is the only candidate, so a row outside the ttl
-- means no match). {entities}, {view_a}, {view_b} and {output} are file
-- paths, substituted by the runner.
COPY (
  WITH a AS (
    SELECT entity_id, event_timestamp,
           arg_max_null(f_a_double, created) AS f_a_double,
           arg_max_null(f_a_double2, created) AS f_a_double2,
           arg_max_null(f_a_float, created) AS f_a_float,
           arg_max_null(f_a_int, created) AS f_a_int,
           arg_max_null(f_a_string, created) AS f_a_string
    FROM read_parquet('{view_a}')
    GROUP BY entity_id, event_timestamp
  ), b AS (
    SELECT entity_id, event_timestamp,
           arg_max_null(f_b_double, created) AS f_b_double,
           arg_max_null(f_b_double2, created) AS f_b_double2,
           arg_max_null(f_b_float, created) AS f_b_float,
           arg_max_null(f_b_int, created) AS f_b_int,
           arg_max_null(f_b_string, created) AS f_b_string
    FROM read_parquet('{view_b}')
    GROUP BY entity_id, event_timestamp
  ), j AS (
    SELECT e.entity_id, e.event_timestamp, e.label,
           a.event_timestamp >= e.event_timestamp - INTERVAL 1 DAY AS a_ok,
           b.event_timestamp >= e.event_timestamp - INTERVAL 7 DAY AS b_ok,
           a.f_a_double, a.f_a_double2, a.f_a_float, a.f_a_int, a.f_a_string,
           b.f_b_double, b.f_b_double2, b.f_b_float, b.f_b_int, b.f_b_string
    FROM read_parquet('{entities}') e
    ASOF LEFT JOIN a ON e.entity_id = a.entity_id AND e.event_timestamp >= a.event_timestamp
    ASOF LEFT JOIN b ON e.entity_id = b.entity_id AND e.event_timestamp >= b.event_timestamp
  )
  SELECT entity_id, event_timestamp, label,
         CASE WHEN a_ok THEN f_a_double END AS f_a_double,
         CASE WHEN a_ok THEN f_a_double2 END AS f_a_double2,
         CASE WHEN a_ok THEN f_a_float END AS f_a_float,
         CASE WHEN a_ok THEN f_a_int END AS f_a_int,
         CASE WHEN a_ok THEN f_a_string END AS f_a_string,
         CASE WHEN b_ok THEN f_b_double END AS f_b_double,
         CASE WHEN b_ok THEN f_b_double2 END AS f_b_double2,
         CASE WHEN b_ok THEN f_b_float END AS f_b_float,
         CASE WHEN b_ok THEN f_b_int END AS f_b_int,
         CASE WHEN b_ok THEN f_b_string END AS f_b_string
  FROM j
) TO '{output}' (FORMAT parquet, COMPRESSION snappy)
