# Sourced by bin/airflow and the Makefile targets: the project's Airflow configuration as environment
# variables (AIRFLOW__SECTION__KEY), so there is no airflow.cfg to keep in step.
: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__UNIT_TEST_MODE="${AIRFLOW__CORE__UNIT_TEST_MODE:-False}"
# Cron strings get a [start, end) data interval (the DAGs also use explicit timetables).
export AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS="${AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS:-True}"
# Batches between tasks: only a reference in the metadata DB, the data in object storage
# (a local folder here; s3://... etc. in production).
export AIRFLOW__CORE__XCOM_BACKEND="${AIRFLOW__CORE__XCOM_BACKEND:-airflow.providers.common.io.xcom.backend.XComObjectStorageBackend}"
export AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH="${AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH:-file://$AIRFLOW_HOME/xcom}"
export AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD="${AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD:-512}"
export AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION="${AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION:-gzip}"
# [core] allowed_deserialization_classes stays at Airflow's default: every XCom value is plain JSON
# (dicts/lists; pydantic models are dumped with mode="json"), so no project class is ever deserialized.
# Local SQLite metadata DB only: wait up to 60 s for a write lock instead of failing after 5 s.
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS:-cr_sandbox.sqlite_metadata.CONNECT_ARGS}"
fi
# The connection form's "Test" button (Airflow 3 disables it by default); NetSuite's test is one SuiteQL call.
export AIRFLOW__CORE__TEST_CONNECTION="${AIRFLOW__CORE__TEST_CONNECTION:-Enabled}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# Task processes (LocalExecutor) report to the API server's execution API: follow its host and port
# (Airflow's default is http://localhost:8080/execution/ whatever the port).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}"
export NO_PROXY="${NO_PROXY:-127.0.0.1,localhost}"
# The sandbox connections are not defined here: AIRFLOW_CONN_* variables would take precedence over a
# connection saved in the UI. bin/setup-airflow creates them in the metadata DB where none exists.
