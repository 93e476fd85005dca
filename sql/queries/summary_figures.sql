-- The executive summary's one row of figures.
SELECT * FROM analytics.executive_summary
