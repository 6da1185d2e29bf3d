#!/bin/sh
# Start wyoming_verba with /config/config.yaml, or the bundled example when there is none.
# VERBA_CONFIG_DIR and VERBA_APP_DIR exist so tests can run this exact script outside Docker.
set -eu
config_dir="${VERBA_CONFIG_DIR:-/config}"
app_dir="${VERBA_APP_DIR:-/app}"
config="$config_dir/config.yaml"
if [ ! -f "$config" ]; then
  echo "wyoming-verba: no $config; using the bundled example ($app_dir/config.example.yaml)." \
    "Copy it to $config to change settings." >&2
  config="$app_dir/config.example.yaml"
fi
case "${1:-}" in
  download | doctor) command="$1"; shift; exec wyoming-verba "$command" --config "$config" "$@" ;;
  say | bench | health) exec wyoming-verba "$@" ;;
esac
exec wyoming-verba serve --config "$config" "$@"
