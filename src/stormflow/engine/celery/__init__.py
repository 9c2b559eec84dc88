"""Scale-out: attempts run as Celery tasks on `storm worker` processes on other machines.

- `app`: the Celery app both sides build from a broker URL (Redis or RabbitMQ) and its settings;
- `wire`: a Job and its JobResult as plain JSON (env secrets stripped);
- `keys`: the Redis keys shared by scheduler and workers (results, heartbeats, stops, logs);
- `executor`: `CeleryExecutor`, the Executor living in the scheduler process;
- `worker`: the task a worker runs (the local executor's code, supervised through Redis).

The broker only carries messages; everything that must be quick or keyed by attempt token
(results, liveness, stop requests, log chunks) goes through Redis, which is also the default
broker.
"""
