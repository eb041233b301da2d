#!/bin/sh
# The image's processes. `exec` makes each the container's main process, so the SIGTERM that ECS or
# docker sends on a stop reaches it directly: gunicorn closes sockets gracefully, a Celery worker
# finishes the tasks it holds (warm shutdown) before exiting.
set -eu

# On ECS the stores' credentials arrive as separate secrets (never a URL in a file): build the URLs
# the settings read. Generated passwords exclude every character a URL would need escaped.
if [ -z "${DATABASE_URL:-}" ] && [ -n "${DATABASE_PASSWORD:-}" ]; then
  DATABASE_URL="postgres://${DATABASE_USER}:${DATABASE_PASSWORD}@${DATABASE_HOST}:${DATABASE_PORT:-5432}/${DATABASE_NAME:-deskpilot}?sslmode=require"
  export DATABASE_URL
fi
if [ -z "${REDIS_URL:-}" ] && [ -n "${REDIS_AUTH_TOKEN:-}" ]; then
  REDIS_URL="rediss://:${REDIS_AUTH_TOKEN}@${REDIS_HOST}:${REDIS_PORT:-6379}/0?ssl_cert_reqs=required"
  export REDIS_URL
fi

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # HTTP and WebSockets: gunicorn managing uvicorn ASGI workers (config/gunicorn_conf.py).
    exec gunicorn -c config/gunicorn_conf.py --bind "0.0.0.0:${PORT:-8000}" config.asgi:application
    ;;
  worker)
    # One worker service per queue group, e.g. `worker critical,high`: a flood of low work never
    # takes the processes that answer customers.
    queues="${1:?usage: worker QUEUES (e.g. critical,high | medium | low)}"
    exec celery -A config worker -Q "$queues" --prefetch-multiplier 1 \
      --concurrency "${WORKER_CONCURRENCY:-2}" -n "$(echo "$queues" | tr ',' '-')@%h" -l INFO
    ;;
  beat)
    # Exactly one beat runs (one task in ECS, one service in compose); its schedule state is disposable.
    exec celery -A config beat -l INFO -s /tmp/celerybeat-schedule
    ;;
  migrate)
    # Public schema, tenant template and every tenant, before a new version takes traffic.
    exec python manage.py migrate_all
    ;;
  *)
    # Anything else runs as given (e.g. `python manage.py deadletters list`).
    exec "$role" "$@"
    ;;
esac
