-- Customers by transferred volume over the last 30 days (billing, capacity).
SELECT customer_id,
       sum(bytes_in + bytes_out) AS bytes_total,
       sum(actions) AS actions
FROM usage_hourly FINAL
WHERE hour >= now() - INTERVAL 30 DAY
GROUP BY customer_id
ORDER BY bytes_total DESC
LIMIT 20
