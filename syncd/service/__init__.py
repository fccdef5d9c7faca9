"""The service: what ``syncd serve`` runs beside the engine.

- :mod:`~syncd.service.scheduler`: runs each source's cycle on its interval or cron expression
  (APScheduler 3 behind a small interface), with backoff for failing sources and a graceful stop.
- :mod:`~syncd.service.incidents`: one incident per source and root cause; a pure decision
  function says when to alert, update silently, remind or send a recovery message.
- :mod:`~syncd.service.alerts`: the ``[alerts]`` settings and the channels (JSON webhook, Slack,
  e-mail over SMTP with STARTTLS); delivery is retried and never fatal.
- :mod:`~syncd.service.heartbeat`: a ping after each successful cycle.
- :mod:`~syncd.service.http` and :mod:`~syncd.service.metrics`: ``/healthz``, ``/readyz`` and
  ``/metrics`` on 127.0.0.1.
- :mod:`~syncd.service.completeness`: the audit that compares the store with the CRM.
- :mod:`~syncd.service.settings`: ``[service]`` (HTTP, stopping, leases, retention) and each
  source's ``completeness``.
- :mod:`~syncd.service.service`: ``syncd serve``, all of the above around the engine.
- :mod:`~syncd.service.status`: what ``syncd status`` shows.
"""
