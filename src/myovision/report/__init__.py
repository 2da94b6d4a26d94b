"""Reports: figures (PNG) and result files written atomically under a run's output folder."""
