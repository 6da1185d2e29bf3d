#!/bin/sh
# Start wyoming_verba with /config/config.yaml, or the bundled example when there is none.
# Before serving (or downloading), check that /config can be read and /data written by this user:
# a bind-mounted ./data created by the host user is not writable by the image's uid 10200.
# VERBA_CONFIG_DIR, VERBA_DATA_DIR and VERBA_APP_DIR let tests run this exact script outside Docker.
set -eu
config_dir="${VERBA_CONFIG_DIR:-/config}"
data_dir="${VERBA_DATA_DIR:-/data}"
app_dir="${VERBA_APP_DIR:-/app}"
config="$config_dir/config.yaml"
user="$(id -u):$(id -g)"

fail() {
  echo "wyoming-verba: $1" >&2
  echo "  On the Docker host, run: $2" >&2
  echo "  (with the shipped docker-compose files, the host directories are ./config and ./data)" >&2
  exit 1
}

check_config_readable() {
  if [ -d "$config_dir" ] && { [ ! -r "$config_dir" ] || [ ! -x "$config_dir" ]; }; then
    fail "$config_dir cannot be read by uid $user, so its config.yaml would be ignored." \
      "sudo chmod a+rx <the directory mounted at $config_dir>"
  fi
  if [ -f "$config" ] && [ ! -r "$config" ]; then
    fail "$config cannot be read by uid $user." \
      "sudo chmod a+r <the directory mounted at $config_dir>/config.yaml"
  fi
}

check_data_writable() {
  probe="$data_dir/.verba-write-test.$$"
  if ! (mkdir -p "$data_dir" && : > "$probe") 2>/dev/null; then
    fail "$data_dir is not writable by uid $user; it holds the model cache and the Edge voice list." \
      "sudo chown -R $user <the directory mounted at $data_dir>"
  fi
  rm -f "$probe"
}

case "${1:-}" in
  say | bench | health | voices | voice) exec wyoming-verba "$@" ;;
esac
check_config_readable
if [ ! -f "$config" ]; then
  echo "wyoming-verba: no $config; using the bundled example ($app_dir/config.example.yaml)." \
    "Copy it to $config to change settings." >&2
  config="$app_dir/config.example.yaml"
fi
case "${1:-}" in
  doctor) shift; exec wyoming-verba doctor --config "$config" "$@" ;;
  download) shift; check_data_writable; exec wyoming-verba download --config "$config" "$@" ;;
esac
check_data_writable
exec wyoming-verba serve --config "$config" "$@"
