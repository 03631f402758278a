"""Informes: report facts filled by rq jobs (refresh), read by the page (metrics), drawn
(charts) and exported (csv). The page reads only the `report_*` tables, never tickets."""
