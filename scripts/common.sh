# Shared by scripts/run and scripts/test: say clearly what is missing, never a stack trace.

die() {
    echo "twitchwatch: $*" >&2
    exit 1
}

# The newest python3.X >= 3.11 on PATH (or $PYTHON).
find_python() {
    local c
    for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

# Create .venv if needed and install the project into it, with the given extra ("" or dev).
# Reinstalls only when pyproject.toml changed since the last install.
ensure_venv() {
    local extra="$1" py stamp spec
    py=$(find_python) || die "Python 3.11 or newer is needed (found: $(python3 --version 2>&1 || echo none)).
  On Debian/Ubuntu: sudo apt-get install python3 python3-venv"
    if [ ! -x .venv/bin/python ]; then
        echo "twitchwatch: creating .venv with $py" >&2
        "$py" -m venv .venv 2>/dev/null || die "could not create a virtual environment.
  On Debian/Ubuntu: sudo apt-get install python3-venv"
    fi
    spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    stamp=".venv/.installed-${extra:-base}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "twitchwatch: installing the project into .venv ($spec)" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" ||
            die "pip could not install the project's dependencies (see above). Is PyPI reachable?"
        touch "$stamp"
    fi
}

# Install Debian packages that provide the given commands, if any is missing.
#   ensure_debian influxd:influxdb mosquitto:mosquitto
ensure_debian() {
    local missing=() pair cmd pkg sudo=""
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing ${missing[*]}, and this is not a Debian/Ubuntu machine: install them by hand"
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root, or install sudo"
        sudo="sudo"
    fi
    echo "twitchwatch: installing ${missing[*]} from Debian's packages" >&2
    # The tests run their own servers on other ports: a system-wide instance that the
    # package may start does not get in their way.
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
        "${missing[@]}" >/tmp/twitchwatch-apt.log 2>&1; then
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update >>/tmp/twitchwatch-apt.log 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
            "${missing[@]}" >>/tmp/twitchwatch-apt.log 2>&1 ||
            die "apt-get could not install ${missing[*]}; see /tmp/twitchwatch-apt.log"
    fi
}
