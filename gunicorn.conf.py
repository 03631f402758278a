"""gunicorn reads this file from the working directory: `gunicorn -w 4 'app:create_app()'`,
as the README's production section runs it, and the load bench (bench/http_load.py).

Once a worker has built the app, everything built so far (modules, templates, the admin's
views) is moved out of the garbage collector's sight (`gc.freeze`), and the youngest
generation is collected less often: the collector walking those long-lived objects again and
again was 15-20 % of a queue page's CPU (measured in-process at 100,000 tickets)."""

import gc


def post_worker_init(worker):
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
