-- Share of failed executions per action type over the last 7 days.
SELECT action,
       sum(actions) AS actions,
       sum(error_actions) AS errors,
       round(errors / actions, 4) AS error_rate
FROM capacity_minutely FINAL
WHERE minute >= now() - INTERVAL 7 DAY
GROUP BY action
ORDER BY error_rate DESC, actions DESC
