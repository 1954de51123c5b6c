-- Client IPs with unusually many actions in one hour (misuse investigation):
-- more than ten times the median hourly count of all IPs over the last 7 days.
WITH per_ip_hour AS (
    SELECT client_ip, toStartOfHour(started_at) AS hour, count() AS actions,
           uniqExact(customer_id) AS customers, uniqExact(login) AS logins
    FROM actions FINAL
    WHERE started_at >= now() - INTERVAL 7 DAY
    GROUP BY client_ip, hour
)
SELECT client_ip, hour, actions, customers, logins
FROM per_ip_hour
WHERE actions > 10 * (SELECT greatest(median(actions), 1) FROM per_ip_hour)
ORDER BY actions DESC
LIMIT 50
