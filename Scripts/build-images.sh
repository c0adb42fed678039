#!/usr/bin/env bash
# Builds Apiary's container images with podman (or buildah), pulling no base image from
# anywhere: every image is FROM scratch plus a root file system assembled here from
#   - the executables (Swift: apiary, memstore, ticker; C++: file-secrets),
#   - exactly the shared libraries `ldd` lists for them, copied from this machine at the
#     paths ldd names (the Swift runtime from the toolchain, gRPC, OpenSSL, libstdc++ and
#     glibc from Debian's packages), plus the dynamic loader,
#   - for the Python images, Debian's python3.11 interpreter unpacked from its .deb files
#     (apt-get download + dpkg-deb -x) and the sample's PyPI wheels (pip --target).
#
# Images (all tagged :dev, all running as uid/gid 65532, all with a /sockets folder of
# mode 1777 for the shared emptyDir, see Docs/kubernetes.md):
#   localhost/apiary               entrypoint apiary (plus podman-probe as curl and sh, for
#                                  podman's httpGet probes)
#   localhost/apiary-memstore      entrypoint memstore         (Swift sample)
#   localhost/apiary-ticker        entrypoint ticker           (Swift sample)
#   localhost/apiary-file-secrets  entrypoint file-secrets     (C++ sample)
#   localhost/apiary-redis-store   entrypoint python3.11 redis_store.py (Python sample)
#   localhost/apiary-demo-app      entrypoint python3.11 demo-app.py    (Scripts/demo-app.py)
#   localhost/apiary-redis         entrypoint redis-server     (Debian's, for the manifests)
#
# Usage:
#   Scripts/build-images.sh                      # swift build -c release, cmake Release, then the images
#   Scripts/build-images.sh --bin-dir .build/debug   # use Swift executables already built
#   Scripts/build-images.sh --only apiary,memstore   # some images only
# Options and environment:
#   --bin-dir DIR        (APIARY_IMAGES_BIN_DIR)   folder with apiary, memstore, ticker;
#                        default: build them with `swift build -c release`
#   --file-secrets PATH  (APIARY_IMAGES_FILE_SECRETS) the C++ sample's executable;
#                        default: build it with CMake (Release) in its build/ folder
#   --only LIST          comma-separated image short names (apiary, memstore, ticker,
#                        file-secrets, redis-store, demo-app, redis)
#   --tag TAG            (APIARY_IMAGES_TAG, default dev)
#   --no-strip           keep the executables' symbols (they are stripped by default)
# Work files go to .build-images/ (ignored by git). Prints each image's size at the end.
# Needs root for apt-get (installs podman/buildah, gcc, binutils when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bin_dir=${APIARY_IMAGES_BIN_DIR:-}
file_secrets=${APIARY_IMAGES_FILE_SECRETS:-}
tag=${APIARY_IMAGES_TAG:-dev}
only=""
strip_binaries=yes
python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --bin-dir=*) bin_dir=${1#*=}; shift ;;
    --file-secrets) file_secrets=$2; shift 2 ;;
    --file-secrets=*) file_secrets=${1#*=}; shift ;;
    --only) only=$2; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --tag) tag=$2; shift 2 ;;
    --no-strip) strip_binaries=no; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

all_images=(apiary memstore ticker file-secrets redis-store demo-app redis)
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
for name in ${only//,/ }; do
  [[ " ${all_images[*]} " == *" $name "* ]] || { echo "build-images: no image named $name (${all_images[*]})" >&2; exit 2; }
done

say() { echo "build-images ($(date -u +%H:%M:%S)): $*" >&2; }
die() { echo "build-images: $*" >&2; exit 1; }

apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  say "installing $* (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

# --- tools -------------------------------------------------------------------------------
if command -v podman >/dev/null; then
  builder=(podman build)
elif command -v buildah >/dev/null; then
  builder=(buildah bud)
else
  apt_install podman buildah runc || die "podman or buildah is needed (apt-get install podman buildah runc)"
  builder=(podman build)
fi
command -v gcc >/dev/null || apt_install gcc libc6-dev || die "gcc is needed for podman-probe (apt-get install gcc)"
command -v strip >/dev/null || apt_install binutils || die "strip is needed (apt-get install binutils)"
command -v ldd >/dev/null || die "ldd is needed (Debian's libc-bin)"

# --- executables ---------------------------------------------------------------------------
if wanted apiary || wanted memstore || wanted ticker; then
  if [ -z "$bin_dir" ]; then
    say "swift build -c release (apiary, memstore, ticker); use --bin-dir to reuse a build"
    for product in apiary memstore ticker; do
      wanted "$product" && swift build -c release --product "$product" >&2
    done
    bin_dir=$(swift build -c release --show-bin-path)
  fi
  bin_dir=$(cd "$bin_dir" && pwd)
fi
cpp=SamplesComponents/cpp/file-secrets
if wanted file-secrets && [ -z "$file_secrets" ]; then
  say "building $cpp (CMake, Release)"
  cmake -S "$cpp" -B "$cpp/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$cpp/build" -j2 >&2
  file_secrets=$cpp/build/file-secrets
fi

work=$repo/.build-images
mkdir -p "$work"

# --- root file system helpers -------------------------------------------------------------
uid=65532

# A new root file system: /etc/passwd and /etc/group naming uid 65532 (apiary), /tmp,
# and /sockets with mode 1777. Kubernetes creates an emptyDir 0777 while podman copies
# the image's folder (owner and mode) into a new volume, so with 1777 here the shared
# sockets volume is writable by the pod's non-root user under both.
new_root() {
  local root=$work/$1/rootfs
  rm -rf "$work/$1"
  mkdir -p "$root"/{etc,tmp,sockets,usr/local/bin}
  chmod 1777 "$root/tmp" "$root/sockets"
  printf 'root:x:0:0:root:/root:/sbin/nologin\napiary:x:%s:%s:apiary:/nonexistent:/sbin/nologin\n' "$uid" "$uid" \
    >"$root/etc/passwd"
  printf 'root:x:0:\napiary:x:%s:\n' "$uid" >"$root/etc/group"
  echo "$root"
}

# Copies the shared libraries `ldd FILE` lists, and the dynamic loader, into ROOT at the
# paths ldd names (symbolic links followed: the file lands under the name ldd printed).
# Fails on a library ldd cannot find, unless OPTIONAL=1 (then answers 1).
copy_libraries() {
  local root=$1 file=$2 optional=${3:-0} line path
  local listing
  listing=$(ldd "$file" 2>&1) || { [[ "$listing" == *"not a dynamic executable"* ]] && return 0; }
  if grep -q "not found" <<<"$listing"; then
    [ "$optional" = 1 ] && return 1
    die "$file needs libraries this machine lacks: $(grep 'not found' <<<"$listing" | tr -s ' \t' ' ')"
  fi
  while read -r line; do
    case "$line" in
      *"=> /"*) path=${line#*=> }; path=${path%% (*} ;;
      /*) path=${line%% (*} ;;
      *) continue ;;
    esac
    [ -e "$root$path" ] && continue
    mkdir -p "$root$(dirname "$path")"
    cp -L "$path" "$root$path"
  done <<<"$listing"
}

# Copies an executable into ROOT at DEST (stripped unless --no-strip) with its libraries.
copy_executable() {
  local root=$1 source=$2 dest=$3
  [ -x "$source" ] || die "$source is not an executable (see --bin-dir / --file-secrets)"
  mkdir -p "$root$(dirname "$dest")"
  if [ "$strip_binaries" = yes ]; then
    strip --strip-all -o "$root$dest" "$source"
  else
    cp "$source" "$root$dest"
  fi
  chmod 755 "$root$dest"
  copy_libraries "$root" "$source"
}

# podman-probe (Deploy/images/probe.c, static) as /bin/sh, /usr/bin/curl and
# /usr/bin/nc: what podman runs for the httpGet and tcpSocket probes of the images
# that have them (apiary, redis). Kubernetes itself needs none of it.
add_probe() {
  local root=$1
  [ -x "$work/podman-probe" ] && [ "$work/podman-probe" -nt Deploy/images/probe.c ] \
    || gcc -static -Os -s -o "$work/podman-probe" Deploy/images/probe.c
  mkdir -p "$root/bin" "$root/usr/bin" "$root/usr/local/bin"
  cp "$work/podman-probe" "$root/usr/local/bin/podman-probe"
  ln -s ../local/bin/podman-probe "$root/usr/bin/curl"
  ln -s ../local/bin/podman-probe "$root/usr/bin/nc"
  ln -s ../usr/local/bin/podman-probe "$root/bin/sh"
}

# Builds image NAME from Deploy/images/NAME.Containerfile with .build-images/NAME as its
# context (the root file system in rootfs/).
build_image() {
  local name=$1 image=$2 previous
  say "image $image"
  previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  "${builder[@]}" --quiet --pull=never -f "Deploy/images/$name.Containerfile" -t "$image" "$work/$name" >/dev/null
  # The image this tag named before, now untagged: removed unless a container uses it.
  if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$image")" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
}

# Debian's python3.11 (interpreter and standard library) unpacked from the .deb files
# into ROOT: apt-get download of the packages this machine's apt lists name, then
# dpkg-deb -x; the libraries the interpreter and its extension modules need come from
# this machine (ldd); modules whose libraries are missing here are left out. The
# standard library is compiled to .pyc here (the image's root is read-only at run time).
python_debs=$work/python-debs
fetch_python() {
  if ! ls "$python_debs"/python3.11-minimal_*.deb >/dev/null 2>&1; then
    rm -rf "$python_debs" && mkdir -p "$python_debs"
    say "apt-get download python3.11-minimal libpython3.11-minimal libpython3.11-stdlib"
    (cd "$python_debs" && apt-get download python3.11-minimal libpython3.11-minimal libpython3.11-stdlib >/dev/null 2>&1) \
      || { apt-get update -qq && (cd "$python_debs" && apt-get download python3.11-minimal libpython3.11-minimal libpython3.11-stdlib >/dev/null); } \
      || die "apt-get download of Debian's python3.11 packages failed"
  fi
}
install_python() {
  local root=$1 deb module
  fetch_python
  for deb in "$python_debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$root"/usr/share/{doc,man,lintian,binfmts,applications,pixmaps} "$root"/usr/bin/pydoc* \
    "$root"/usr/lib/python3.11/{test,idlelib,tkinter,turtledemo,ensurepip,lib2to3,pydoc_data,unittest/test} \
    "$root"/usr/lib/python3.11/config-* "$root"/etc/python3.11
  copy_libraries "$root" "$root/usr/bin/python3.11"
  for module in "$root"/usr/lib/python3.11/lib-dynload/*.so; do
    copy_libraries "$root" "$module" 1 || { say "python: leaving out $(basename "$module") (its libraries are not on this machine)"; rm -f "$module"; }
  done
  ln -sf python3.11 "$root/usr/bin/python3"
}
compile_python() {
  local root=$1
  "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$root" -p / \
    "$root/usr/lib/python3.11" "$root/usr/local/lib/python3.11" >/dev/null 2>&1 || true
}

# --- the images -----------------------------------------------------------------------------
declare -a built=()

if wanted apiary; then
  root=$(new_root apiary)
  copy_executable "$root" "$bin_dir/apiary" /usr/local/bin/apiary
  add_probe "$root"
  mkdir -p "$root/etc/apiary/components"
  build_image apiary "localhost/apiary:$tag"; built+=("localhost/apiary:$tag")
fi

for sample in memstore ticker; do
  wanted "$sample" || continue
  root=$(new_root "$sample")
  copy_executable "$root" "$bin_dir/$sample" "/usr/local/bin/$sample"
  build_image "$sample" "localhost/apiary-$sample:$tag"; built+=("localhost/apiary-$sample:$tag")
done

if wanted file-secrets; then
  root=$(new_root file-secrets)
  copy_executable "$root" "$file_secrets" /usr/local/bin/file-secrets
  build_image file-secrets "localhost/apiary-file-secrets:$tag"; built+=("localhost/apiary-file-secrets:$tag")
fi

if wanted redis-store; then
  root=$(new_root redis-store)
  install_python "$root"
  site=$root/usr/local/lib/python3.11/dist-packages
  mkdir -p "$site" "$root/app"
  # The sample's requirements without grpcio-tools (protoc, for regenerating the SDK's
  # stubs; nothing imports it at run time), as wheels for CPython 3.11 on glibc x86-64.
  grep -v -e '^#' -e '^grpcio-tools' SamplesComponents/python/redis-store/requirements.txt | grep . \
    >"$work/redis-store/requirements.txt"
  # redis needs async-timeout on Python below 3.11.3, and Debian 12's is 3.11.2; pip
  # evaluates that marker with the running interpreter's full version even with
  # --python-version, so it is named here.
  echo "async-timeout==5.0.1" >>"$work/redis-store/requirements.txt"
  py_version=$(basename "$python_debs"/python3.11-minimal_*.deb | sed -E 's/^python3.11-minimal_([0-9.]+).*/\1/')
  say "pip install --target (the redis-store sample's wheels, for CPython $py_version)"
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --target "$site" \
    --only-binary=:all: --implementation cp --python-version "$py_version" --abi cp311 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -r "$work/redis-store/requirements.txt" >&2
  # The repository's Python SDK, as the sample's bootstrap would find it installed.
  cp -r SDKs/python/apiary-component/src/apiary_component "$site/"
  find "$site" -name '*.so' -print0 | while IFS= read -r -d '' module; do copy_libraries "$root" "$module"; done
  rm -rf "$site"/bin
  cp -r SamplesComponents/python/redis-store/redis_store.py SamplesComponents/python/redis-store/redisstore "$root/app/"
  find "$root" -name __pycache__ -prune -exec rm -rf {} +
  compile_python "$root"
  "$python" -m compileall -q --invalidation-mode unchecked-hash -s "$root" -p / "$root/app" >/dev/null
  build_image redis-store "localhost/apiary-redis-store:$tag"; built+=("localhost/apiary-redis-store:$tag")
fi

if wanted demo-app; then
  root=$(new_root demo-app)
  install_python "$root"
  mkdir -p "$root/app"
  cp Scripts/demo-app.py "$root/app/demo-app.py"
  find "$root" -name __pycache__ -prune -exec rm -rf {} +
  compile_python "$root"
  build_image demo-app "localhost/apiary-demo-app:$tag"; built+=("localhost/apiary-demo-app:$tag")
fi

if wanted redis; then
  command -v redis-server >/dev/null || apt_install redis-server || die "redis-server is needed (apt-get install redis-server)"
  root=$(new_root redis)
  mkdir -p "$root/data" && chmod 1777 "$root/data"
  copy_executable "$root" "$(readlink -f "$(command -v redis-server)")" /usr/local/bin/redis-server
  add_probe "$root"
  build_image redis "localhost/apiary-redis:$tag"; built+=("localhost/apiary-redis:$tag")
fi

# --- sizes ----------------------------------------------------------------------------------
if command -v podman >/dev/null; then
  list=(podman image ls)
else
  list=(buildah images)
fi
echo
printf '%-40s %s\n' IMAGE SIZE
for image in "${built[@]}"; do
  printf '%-40s %s\n' "$image" "$("${list[@]}" --format '{{.Size}}' "$image" | head -1)"
done
