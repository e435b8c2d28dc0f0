-- pgbench script of the red packet benchmark (bench/redpackets_run.py): the fastest transaction
-- that locks one row, to compare with claims of one packet, which all lock the packet row.
UPDATE bench_one_row SET v = v + 1 WHERE id = 1;
