"""`sgdlab serve`: the descent playground, the run store and live training, in the browser.

``app.create_app(store)`` builds the FastAPI app; ``server`` runs it with uvicorn. Routes are
split by concern: ``playground`` (surfaces, descent), ``runs`` (the store, read-only), ``train``
(jobs started from the page, run by ``jobs.JobManager``). Imports run one way: serve -> api,
problems and problem packages -> core; nothing below imports serve.
"""
