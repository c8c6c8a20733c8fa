#!/usr/bin/env bash
# Start the MLflow tracking server that a sweep's driver logs to.
#
#   mlflow/serve.sh                    # SQLite + local artifacts, on 127.0.0.1:5000 only
#
#   # a cluster's server: PostgreSQL, artifacts every node's driver reaches, exposed with auth
#   MLFLOW_BACKEND_STORE_URI=postgresql://mlflow:$PGPASSWORD@db-host:5432/mlflow \
#   MLFLOW_ARTIFACTS_DESTINATION=s3://my-bucket/mlflow \
#   MLFLOW_HOST=0.0.0.0 \
#   MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/basic_auth.ini \
#   MLFLOW_FLASK_SERVER_SECRET_KEY=$(openssl rand -hex 32) \
#   mlflow/serve.sh
#
# Then point sweeps at it: MLFLOW_TRACKING_URI=http://host:5000 (and, with auth,
# MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). `platform/sweep.py` checks that the
# server answers before any trial starts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MLFLOW_BIN=${MLFLOW_BIN:-$here/../.venv/bin/mlflow}
[[ -x $MLFLOW_BIN ]] || MLFLOW_BIN=mlflow
HOST=${MLFLOW_HOST:-127.0.0.1}
PORT=${MLFLOW_PORT:-5000}
BACKEND=${MLFLOW_BACKEND_STORE_URI:-sqlite:///$PWD/mlflow.db}
ARTIFACTS=${MLFLOW_ARTIFACTS_DESTINATION:-$PWD/mlartifacts}

args=(server --backend-store-uri "$BACKEND" --artifacts-destination "$ARTIFACTS"
      --host "$HOST" --port "$PORT")
case $HOST in
    127.* | localhost | ::1) exposed=false ;;
    *) exposed=true ;;
esac
if [[ -n ${MLFLOW_AUTH_CONFIG_PATH:-} ]]; then
    if [[ ! -f $MLFLOW_AUTH_CONFIG_PATH ]]; then
        echo "serve.sh: MLFLOW_AUTH_CONFIG_PATH=$MLFLOW_AUTH_CONFIG_PATH does not exist" \
             "(copy mlflow/basic_auth.ini.example and set a password)" >&2
        exit 2
    fi
    if [[ -z ${MLFLOW_FLASK_SERVER_SECRET_KEY:-} ]]; then
        echo "serve.sh: basic auth needs MLFLOW_FLASK_SERVER_SECRET_KEY (e.g. openssl rand -hex 32)" >&2
        exit 2
    fi
    args+=(--app-name basic-auth)
elif $exposed; then
    echo "serve.sh: refusing to listen on $HOST without authentication: set" \
         "MLFLOW_AUTH_CONFIG_PATH to a basic-auth config (mlflow/basic_auth.ini.example)" \
         "and MLFLOW_FLASK_SERVER_SECRET_KEY, or keep MLFLOW_HOST=127.0.0.1" >&2
    exit 2
fi
echo "serve.sh: MLflow on http://$HOST:$PORT, backend ${BACKEND%%://*}://..., artifacts $ARTIFACTS" >&2
exec "$MLFLOW_BIN" "${args[@]}"
