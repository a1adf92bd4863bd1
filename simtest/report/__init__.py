"""Reports of simtest runs: HTML report, JSON/JUnit summaries, model comparison, run history.

Entry points (the ``simtest report|compare|history`` commands wrap them):

* :func:`simtest.report.build.build_report` — ``report.html`` + ``summary.json`` + ``junit.xml`` of a run;
* :func:`simtest.report.compare.compare_runs` and :func:`simtest.report.compare_page.write_outputs`;
* :func:`simtest.report.history.build_history` and :func:`simtest.report.history_page.write_outputs`;
* :func:`simtest.report.mlflow_log.log_run` — the ``logger=mlflow`` hook of the main job.

One module per report section (gates, degradation, conditions, tail, distance, fmea,
effects, patch, metadata); :mod:`.html` and :mod:`.plots` build self-contained pages
(inline CSS and SVG, no scripts, no external resources).
"""
