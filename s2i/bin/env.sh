# shellcheck shell=sh
# Sourced by the builder's assemble and run (at /usr/libexec/s2i/env.sh), never run on its
# own: what both need, and the one place where the OpenShift Python builder's variables
# (sclorg/s2i-python-container) are mapped onto warp's. warp reads only its own WARP_*
# names, so a project written for that builder keeps working unchanged.
#
# Reading variables: an s2i build passes .s2i/environment into the container's environment,
# but a build with plain docker (or a Dockerfile running assemble) does not, so the scripts
# read the app's files themselves, as warp does: the inherited environment first, then
# .warp/environment (or .warpdrive/environment), then .s2i/environment. The files are only
# read here, never exported: warp applies them itself with the same precedence. A WARP_*
# variable the app sets in any of these places wins over the mapping.

# The venv and the app's source, as DESIGN.md places them in a container.
s2i_app_root=${APP_ROOT:-/opt/app-root}
s2i_src=$s2i_app_root/src
# The folders whose environment files count: the source root (where .s2i/environment is)
# and the app's own folder (APP_HOME, else the root). The scripts move them as they go.
s2i_root=$s2i_src
s2i_app=$s2i_src

# A progress line, on stderr: save-artifacts' stdout is a tar and nothing else, and the
# other scripts keep to the same rule.
s2i_say() {
  printf '%s\n' "---> $*" >&2
}

# Bad input: one line that says what was wrong and what to do, and exit 1.
s2i_die() {
  printf '%s\n' "error: $*" >&2
  exit 1
}

# VALUE without one pair of matching quotes around the whole of it, on stdout: values in
# the environment files are read as warp reads them ("app:app" is app:app, nothing expanded).
s2i_unquote() {
  case $1 in
    \"*\" | \'*\') s2i_unquoted=${1#?} && printf '%s\n' "${s2i_unquoted%?}" ;;
    *) printf '%s\n' "$1" ;;
  esac
}

# The value of KEY in the KEY=VALUE file FILE (its last assignment, as warp reads it), on
# stdout; fails when the file does not assign KEY. Lines are read as warp reads them.
s2i_file_value() {
  [ -f "$2" ] || return 1
  s2i_assigned=no
  while IFS= read -r s2i_line || [ -n "$s2i_line" ]; do
    s2i_line=${s2i_line#"${s2i_line%%[![:space:]]*}"}
    case $s2i_line in
      "$1="*) s2i_found=${s2i_line#*=} s2i_assigned=yes ;;
    esac
  done <"$2"
  [ "$s2i_assigned" = yes ] && s2i_unquote "$s2i_found"
}

# The folder of warp's own files in DIR: .warp, or .warpdrive for a project with only that.
s2i_config_dir() {
  if [ ! -e "$1/.warp" ] && [ -d "$1/.warpdrive" ]; then
    printf '%s\n' "$1/.warpdrive"
  else
    printf '%s\n' "$1/.warp"
  fi
}

# The variable NAME as the app's processes see it (empty when unset): inherited, else from
# the app's .warp/environment, its .s2i/environment, then the source root's .s2i/environment.
# NAME is always a literal name written in these scripts, so eval only reads a variable.
s2i_get() {
  if eval "[ -n \"\${$1+set}\" ]"; then
    eval "printf '%s\\n' \"\${$1}\""
    return 0
  fi
  s2i_file_value "$1" "$(s2i_config_dir "$s2i_app")/environment" ||
    s2i_file_value "$1" "$s2i_app/.s2i/environment" ||
    { [ "$s2i_root" != "$s2i_app" ] && s2i_file_value "$1" "$s2i_root/.s2i/environment"; } ||
    true
}

# Export warp's variable NAME as VALUE, unless the app sets NAME itself.
s2i_map() {
  if [ -z "$(s2i_get "$1")" ]; then
    export "$1=$2"
  fi
}

# An arbitrary UID (OpenShift's, or docker run -u) has no passwd entry, and without one
# getpass.getuser(), pwd.getpwuid(os.getuid()) and the programs that ask who they run as
# fail. The builder leaves /etc/passwd writable by group 0, so the entry is added here, for
# this process and every later one in the container (docker exec, oc rsh).
s2i_ensure_user() {
  if id -un >/dev/null 2>&1; then
    return 0
  fi
  s2i_uid=$(id -u)
  if [ -w /etc/passwd ]; then
    printf '%s\n' "user-$s2i_uid:x:$s2i_uid:$(id -g):warp application user:${HOME:-$s2i_src}:/bin/sh" >>/etc/passwd
  else
    s2i_say "UID $s2i_uid has no passwd entry and /etc/passwd is read-only: programs that look the user up will fail"
  fi
}

# The app's folder: APP_HOME (relative to the source root, or absolute), else the root.
s2i_find_app() {
  s2i_home=$(s2i_get APP_HOME)
  [ -n "$s2i_home" ] || { printf '%s\n' "$s2i_root"; return 0; }
  case $s2i_home in
    /*) s2i_dir=$s2i_home ;;
    *) s2i_dir=$s2i_root/$s2i_home ;;
  esac
  [ -d "$s2i_dir" ] || s2i_die "APP_HOME=$s2i_home: there is no folder $s2i_dir: set APP_HOME to the app's folder, relative to the source's root"
  (cd "$s2i_dir" && pwd -P)
}

# Whether VALUE is true as warp reads a boolean (1, true, yes or on, in any case).
s2i_is_true() {
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
    1 | true | yes | on) return 0 ;;
  esac
  return 1
}

# Work in the app's folder when APP_HOME makes it another than the source's root, as that
# builder does: the root stays importable (PYTHONPATH), and since warp, working in the app's
# folder, reads only that folder's environment files, the root's .s2i/environment is
# exported here, as an s2i build would have passed it in, for each variable the
# environment does not set already.
s2i_enter_app() {
  [ "$s2i_root" != "$s2i_app" ] || return 0
  export PYTHONPATH="$s2i_root${PYTHONPATH:+:$PYTHONPATH}"
  [ -f "$s2i_root/.s2i/environment" ] || return 0
  while IFS= read -r s2i_line || [ -n "$s2i_line" ]; do
    s2i_line=${s2i_line#"${s2i_line%%[![:space:]]*}"}
    case $s2i_line in
      '' | '#'*) continue ;;
    esac
    s2i_key=${s2i_line%%=*}
    case $s2i_key in
      "$s2i_line" | '' | [0-9]* | *[!A-Za-z0-9_]*)
        s2i_die ".s2i/environment: expected KEY=VALUE, found \"$s2i_line\": fix or remove that line" ;;
    esac
    # The line is KEY=VALUE: KEY is set to VALUE as warp would read it.
    eval "[ -n \"\${$s2i_key+set}\" ]" || export "$s2i_key=$(s2i_unquote "${s2i_line#*=}")"
  done <"$s2i_root/.s2i/environment"
}

# That builder's images run with LC_ALL and LANG set to en_US.UTF-8 (an app may assert it):
# so do this one's, where the base has that locale, unless the app or its environment chose
# another. C.UTF-8, which bases set, is no choice of the app's.
s2i_default_locale() {
  locale -a 2>/dev/null | grep -qix 'en_US\.utf-\{0,1\}8' || return 0
  for s2i_var in LC_ALL LANG; do
    case $(s2i_get "$s2i_var") in
      '' | C | POSIX | C.UTF-8 | C.utf8) export "$s2i_var=en_US.UTF-8" ;;
    esac
  done
}

# The build's mapping, for assemble (warp build).
s2i_map_build() {
  s2i_default_locale
  [ -z "$(s2i_get DISABLE_COLLECTSTATIC)" ] || s2i_map WARP_DISABLE_COLLECTSTATIC true
  [ -z "$(s2i_get UPGRADE_PIP_TO_LATEST)" ] || s2i_map WARP_UPGRADE_PIP true
  # That builder pins pipenv only when it uses pipenv at all.
  if [ -n "$(s2i_get ENABLE_PIPENV)" ] && [ -n "$(s2i_get PIN_PIPENV_VERSION)" ]; then
    s2i_map WARP_PIPENV_VERSION "$(s2i_get PIN_PIPENV_VERSION)"
  fi
  # It installs the app from setup.py/setup.cfg and from pyproject.toml, each unless its
  # switch is set: the app is left out only when every file it has is switched off.
  s2i_no_setup=$(s2i_get DISABLE_SETUP_PY_PROCESSING)
  s2i_no_pyproject=$(s2i_get DISABLE_PYPROJECT_TOML_PROCESSING)
  if [ -n "$s2i_no_setup$s2i_no_pyproject" ]; then
    s2i_install=false
    if [ -z "$s2i_no_setup" ] && { [ -f "$s2i_root/setup.py" ] || [ -f "$s2i_root/setup.cfg" ]; }; then
      s2i_install=true
    fi
    if [ -z "$s2i_no_pyproject" ] && [ -f "$s2i_root/pyproject.toml" ]; then
      s2i_install=true
    fi
    [ "$s2i_install" = true ] || s2i_map WARP_INSTALL_APP false
  fi
  # That builder's pip reads PIP_INDEX_URL; warp installs with uv, which reads its own name.
  s2i_index=$(s2i_get PIP_INDEX_URL)
  if [ -n "$s2i_index" ] && [ -z "$(s2i_get UV_INDEX_URL)" ]; then
    s2i_map UV_DEFAULT_INDEX "$s2i_index"
  fi
}

# The start's mapping, for run (warp start).
s2i_map_run() {
  s2i_default_locale
  # That builder's order of entry points (app.sh, app.py, gunicorn.conf.py, wsgi.py, ...).
  s2i_map WARP_DETECTION s2i
  s2i_value=$(s2i_get APP_SCRIPT)
  [ -z "$s2i_value" ] || s2i_map WARP_APP_SCRIPT "$s2i_value"
  s2i_value=$(s2i_get APP_FILE)
  [ -z "$s2i_value" ] || s2i_map WARP_APP_FILE "$s2i_value"
  s2i_value=$(s2i_get APP_MODULE)
  [ -z "$s2i_value" ] || s2i_map WARP_APP_MODULE "$s2i_value"
  # APP_CONFIG is a gunicorn configuration file (not a Paste .ini, which WARP_APP_CONFIG is).
  s2i_value=$(s2i_get APP_CONFIG)
  if [ -n "$s2i_value" ]; then
    case $s2i_value in
      /*) s2i_config=$s2i_value ;;
      *) s2i_config=$s2i_app/$s2i_value ;;
    esac
    [ -f "$s2i_config" ] || s2i_die "APP_CONFIG=$s2i_value: there is no file $s2i_config: give gunicorn's configuration file, relative to the app's folder"
    s2i_map WARP_SERVER_TYPE gunicorn
    # WARP_SERVER_ARGS is split as sh splits words: the path goes in single quotes.
    s2i_map WARP_SERVER_ARGS "--config '$(printf '%s' "$s2i_config" | sed "s/'/'\\\\''/g")'"
  fi
  # gunicorn reads GUNICORN_CMD_ARGS itself.
  [ -z "$(s2i_get GUNICORN_CMD_ARGS)" ] || s2i_map WARP_SERVER_TYPE gunicorn
  s2i_value=$(s2i_get WEB_CONCURRENCY)
  if [ -n "$s2i_value" ]; then
    case $s2i_value in
      *[!0-9]* | 0*) s2i_die "WEB_CONCURRENCY=$s2i_value is not a number of processes: give a whole number above 0, or leave it unset for warp's default" ;;
    esac
    s2i_map WARP_PROCESSES "$s2i_value"
  fi
}
