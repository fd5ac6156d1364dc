"""Hyperparameter search on Ray Tune (`rlkit tune`): space.py draws and narrows the search
spaces (numpy only), sweep.py runs the trials on Ray, report.py writes the results. Ray is
imported only when a sweep runs, so `import rlkit` works without the tune extra."""
