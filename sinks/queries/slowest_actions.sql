-- Action types by their worst minute's p95 duration over the last 7 days.
SELECT action,
       max(duration_p95_ms) AS worst_p95_ms,
       round(avg(duration_p50_ms), 1) AS typical_p50_ms,
       sum(actions) AS actions
FROM capacity_minutely FINAL
WHERE minute >= now() - INTERVAL 7 DAY
GROUP BY action
ORDER BY worst_p95_ms DESC
LIMIT 20
