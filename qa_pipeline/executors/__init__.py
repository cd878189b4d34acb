"""Executors run the pure per-call function (`batch._score_job`) somewhere: the local process pool lives in
`batch.py`; `ray_pool` runs it on a Ray cluster. Both hand results back to the same writer in `batch.run_batch`."""
