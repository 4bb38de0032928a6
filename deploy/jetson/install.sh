#!/usr/bin/env bash
# Install edgeunet on a Jetson with JetPack 5.x (L4T R35) or 6.x (L4T R36), without torch.
#
# Usage: deploy/jetson/install.sh [--dry-run] [--venv DIR] [--source DIR] [--l4t-release FILE | --l4t VERSION]
#   --dry-run           print every step (the exact commands) and run none of them; works on any machine
#   --venv DIR          virtualenv to create (default /opt/edgeunet/venv, the path deploy/systemd expects)
#   --source DIR        edgeunet source tree to install (default: the checkout this script is in)
#   --l4t-release FILE  L4T release file to read (default $EDGEUNET_L4T_RELEASE, else /etc/nv_tegra_release)
#   --l4t VERSION       state the L4T version instead (e.g. 36.3.0), for containers without the release file
#   --skip-selftest     end with `edgeunet doctor` only (docker build: no GPU is visible while an image builds)
#
# Why this way: JetPack's TensorRT Python bindings exist only as apt packages for the system Python
# (python3-libnvinfer), and pip's OpenCV wheels are built without GStreamer (no csi:// camera, no hardware
# decoders), so the virtualenv sees the system site-packages and pip installs everything else except OpenCV and
# torch. pycuda has no aarch64 wheel: it is compiled here against JetPack's CUDA. The last step runs
# `edgeunet doctor --selftest`, which builds and runs a tiny TensorRT engine: the proof that the install works.

set -euo pipefail

PROG=$(basename "$0")
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
VENV=/opt/edgeunet/venv
RELEASE_FILE=${EDGEUNET_L4T_RELEASE:-/etc/nv_tegra_release}
L4T_GIVEN=""
DRY_RUN=0
SELFTEST=1
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
APT_PACKAGES=(
  python3-pip python3-venv python3-dev build-essential   # venv + the compiler pycuda needs
  python3-libnvinfer python3-libnvinfer-dev              # JetPack's TensorRT Python bindings (system Python)
  libopencv-python                                       # JetPack's OpenCV for Python, built with GStreamer
  gstreamer1.0-tools v4l-utils                           # gst-launch-1.0 and v4l2-ctl to check cameras
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp  # the rtsp:// output (GStreamer's RTSP server; JetPack has nvv4l2h264enc)
)

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 2
}

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
}

STEP=0
step() {
  STEP=$((STEP + 1))
  printf '\n== step %d: %s\n' "$STEP" "$*"
}

# Print the command exactly as it would run (shell-quoted), then run it unless --dry-run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" -eq 0 ]; then
    "$@"
  fi
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --skip-selftest) SELFTEST=0 ;;
      --venv) [ $# -ge 2 ] || die "--venv needs a folder"; VENV=$2; shift ;;
      --venv=*) VENV=${1#*=} ;;
      --source) [ $# -ge 2 ] || die "--source needs a folder"; SOURCE_DIR=$2; shift ;;
      --source=*) SOURCE_DIR=${1#*=} ;;
      --l4t-release) [ $# -ge 2 ] || die "--l4t-release needs a file"; RELEASE_FILE=$2; shift ;;
      --l4t-release=*) RELEASE_FILE=${1#*=} ;;
      --l4t) [ $# -ge 2 ] || die "--l4t needs a version such as 36.3.0"; L4T_GIVEN=$2; shift ;;
      --l4t=*) L4T_GIVEN=${1#*=} ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
  done
}

# Sets L4T_MAJOR, L4T_MINOR, L4T_PATCH and L4T_FROM from --l4t or the release file.
read_l4t() {
  local text pattern
  if [ -n "$L4T_GIVEN" ]; then
    text="# R${L4T_GIVEN#R} (release)"
    pattern='^# R([0-9]+)\.([0-9]+)(\.([0-9]+))? \(release\)$'
    L4T_FROM="--l4t"
  else
    [ -f "$RELEASE_FILE" ] || die "$RELEASE_FILE not found: not a Jetson with JetPack 5 or 6 (pass --l4t-release FILE or --l4t VERSION)"
    [ -r "$RELEASE_FILE" ] || die "$RELEASE_FILE is not readable"
    text=$(head -n 1 "$RELEASE_FILE")
    pattern='^# R([0-9]+) \(release\), REVISION: ([0-9]+)(\.([0-9]+))?'
    L4T_FROM=$RELEASE_FILE
  fi
  [[ $text =~ $pattern ]] || die "cannot read an L4T version from $L4T_FROM ('${L4T_GIVEN:-$text}'); expected e.g. 36.3.0 or '# R36 (release), REVISION: 3.0'"
  L4T_MAJOR=${BASH_REMATCH[1]}
  L4T_MINOR=${BASH_REMATCH[2]}
  L4T_PATCH=${BASH_REMATCH[4]:-0}
}

# Sets JETPACK, PY_EXPECTED and TRT_EXPECTED from the L4T version (NVIDIA's JetPack archive).
jetpack_for_l4t() {
  case "$L4T_MAJOR" in
    35) PY_EXPECTED=3.8; TRT_EXPECTED=8.5 ;;
    36) PY_EXPECTED=3.10; TRT_EXPECTED="8.6 (JetPack 6.0) / 10.3 (6.1+)" ;;
    32) die "L4T R$L4T_MAJOR.$L4T_MINOR is JetPack 4 (TensorRT 8.2, Python 3.6): edgeunet needs JetPack 5.1+ or 6; reflash with SDK Manager" ;;
    *) die "L4T R$L4T_MAJOR.$L4T_MINOR is not JetPack 5 (R35) or 6 (R36); this script supports those two" ;;
  esac
  case "$L4T_MAJOR.$L4T_MINOR.$L4T_PATCH" in
    35.1.0) JETPACK=5.0.2 ;;
    35.2.1) JETPACK=5.1 ;;
    35.3.1) JETPACK=5.1.1 ;;
    35.4.1) JETPACK=5.1.2 ;;
    35.5.0) JETPACK=5.1.3 ;;
    35.6.0) JETPACK=5.1.4 ;;
    35.6.1) JETPACK=5.1.5 ;;
    36.2.0) JETPACK="6.0 DP" ;;
    36.3.0) JETPACK=6.0 ;;
    36.4.0) JETPACK=6.1 ;;
    36.4.3) JETPACK=6.2 ;;
    36.4.4) JETPACK=6.2.1 ;;
    35.*) JETPACK=5.x ;;
    *) JETPACK=6.x ;;
  esac
}

check_machine() {
  local arch python
  arch=$(uname -m)
  if [ "$arch" != "aarch64" ]; then
    [ "$DRY_RUN" -eq 1 ] || die "this machine is $arch, not an aarch64 Jetson; use --dry-run to see the steps"
    echo "note: this machine is $arch, not a Jetson: dry run only"
  fi
  [ -f "$SOURCE_DIR/setup.py" ] || die "$SOURCE_DIR has no setup.py: pass the edgeunet checkout with --source DIR"
  if [ "$DRY_RUN" -eq 0 ]; then
    python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$python" = "$PY_EXPECTED" ] || echo "warning: python3 is $python; JetPack $JETPACK's TensorRT bindings are built for $PY_EXPECTED"
  fi
}

install_system_packages() {
  step "system packages: TensorRT Python bindings and GStreamer-enabled OpenCV from JetPack (apt), build tools"
  run "${SUDO[@]}" apt-get update
  run "${SUDO[@]}" apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
  if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
    echo "CUDA toolkit not found at $CUDA_HOME (pycuda compiles against it): installing JetPack's development components"
    run "${SUDO[@]}" apt-get install -y nvidia-jetpack
  fi
}

# Who owns the virtualenv: root when its folder is not ours to write (the default /opt/edgeunet), so the code the
# service runs is read-only to the service user and to whoever ran this script (never handed over to them).
OWNER=()

create_venv() {
  local parent
  parent=$(dirname "$VENV")
  step "virtualenv $VENV with the system site-packages (tensorrt and cv2 come from JetPack, not from pip)"
  if [ ! -w "$parent" ] && [ ! -w "$VENV" ]; then
    OWNER=("${SUDO[@]}")
    run "${SUDO[@]}" mkdir -p "$parent"
  fi
  run "${OWNER[@]}" python3 -m venv --system-site-packages "$VENV"
  run "${OWNER[@]}" "$VENV/bin/python" -m pip install --upgrade pip setuptools wheel
}

install_pycuda() {
  step "pycuda, compiled against JetPack's CUDA ($CUDA_HOME)"
  run "${OWNER[@]}" env "PATH=$CUDA_HOME/bin:$PATH" "CPATH=$CUDA_HOME/include" "LIBRARY_PATH=$CUDA_HOME/lib64" \
    "$VENV/bin/python" -m pip install --no-binary pycuda pycuda
}

install_edgeunet() {
  step "edgeunet's edge dependencies (no torch, no pip OpenCV), then edgeunet itself with --no-deps"
  run "${OWNER[@]}" "$VENV/bin/python" -m pip install -r "$SOURCE_DIR/deploy/requirements-edge.txt"
  run "${OWNER[@]}" "$VENV/bin/python" -m pip install --no-deps "$SOURCE_DIR"
}

verify() {
  if [ "$SELFTEST" -eq 1 ]; then
    step "check: every part found, then build and run a tiny TensorRT engine (PASS/FAIL with numbers)"
    run "$VENV/bin/edgeunet" doctor --selftest
  else
    step "check: every part found (selftest skipped: run \`edgeunet doctor --selftest\` where the GPU is visible)"
    run "$VENV/bin/edgeunet" doctor
  fi
}

next_steps() {
  cat <<EOF

done$([ "$DRY_RUN" -eq 1 ] && echo " (dry run: nothing was executed)").
  activate:    source $VENV/bin/activate
  benchmarks:  set a known power mode first, e.g. sudo nvpmodel -m 0 && sudo jetson_clocks (deploy/jetson/README.md)
  at boot:     deploy/systemd/README.md
EOF
}

main() {
  parse_args "$@"
  read_l4t
  jetpack_for_l4t
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  echo "edgeunet Jetson install$([ "$DRY_RUN" -eq 1 ] && echo " (dry run: commands are printed, not run)")"
  echo "detected: L4T R$L4T_MAJOR.$L4T_MINOR.$L4T_PATCH (from $L4T_FROM) = JetPack $JETPACK; system Python $PY_EXPECTED, TensorRT $TRT_EXPECTED"
  check_machine
  install_system_packages
  create_venv
  install_pycuda
  install_edgeunet
  verify
  next_steps
}

main "$@"
