-- Sessions in which at least one action failed, last 7 days (bug investigation).
SELECT session_id, any(customer_id) AS customer_id, any(login) AS login,
       min(started_at) AS first_action, count() AS actions,
       countIf(status = 'error') AS errors,
       groupUniqArrayIf(error_code, status = 'error') AS error_codes
FROM actions FINAL
WHERE started_at >= now() - INTERVAL 7 DAY
GROUP BY session_id
HAVING errors > 0
ORDER BY first_action DESC
LIMIT 100
