#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the Linux test guest: Debian's cloud kernel and a busybox initramfs.
#
#   scripts/linux-guest/build.sh [OUTDIR]      (default: build/linux-guest)
#
# Produces OUTDIR/vmlinuz, OUTDIR/initramfs.cpio.gz and OUTDIR/kernel-release;
# the .deb files are cached in OUTDIR/dl. A second run with everything present
# (and this script and the init script unchanged) does nothing.
# See scripts/linux-guest/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build/linux-guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The virtio drivers the guest loads; their dependencies are added from the
# modules' own depends= fields.
want_modules=(virtio_pci virtio_net virtio_blk)

stamp_value=$(cat "$here/build.sh" "$here/init" | sha256sum | cut -d' ' -f1)
if [[ -f $out/vmlinuz && -f $out/initramfs.cpio.gz && -f $out/kernel-release &&
      -f $out/stamp && $(cat "$out/stamp") == "$stamp_value" ]]; then
  exit 0
fi

log() { echo "linux-guest/build: $*" >&2; }

for tool in apt-get apt-cache dpkg-deb cpio gzip; do
  if ! command -v "$tool" >/dev/null; then
    log "installing missing tools ($tool)"
    "$root/scripts/install-deps.sh" --linux
    break
  fi
done

apt_opts=()
if [[ $(id -u) -eq 0 ]]; then
  # Downloading into a directory _apt cannot write to; avoid apt's warning.
  apt_opts=(-o APT::Sandbox::User=root)
fi
apt_updated=0
apt_update() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
}

# Kernel package: the one linux-image-cloud-amd64 depends on.
resolve_kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
dl=$out/dl
mkdir -p "$dl"
kpkg=$(compgen -G "$dl/linux-image-[0-9]*-cloud-amd64_*.deb" | head -n 1 || true)
if [[ -n $kpkg ]]; then
  kpkg=$(basename "$kpkg")
  kpkg=${kpkg%%_*}
else
  kpkg=$(resolve_kernel_pkg)
  if [[ -z $kpkg ]]; then
    apt_update
    kpkg=$(resolve_kernel_pkg)
  fi
  [[ -n $kpkg ]] || { log "cannot resolve the package linux-image-cloud-amd64 depends on"; exit 1; }
fi
log "kernel package $kpkg"

fetch() {
  local pkg=$1
  if compgen -G "$dl/${pkg}_*.deb" >/dev/null; then
    return 0
  fi
  log "apt-get download $pkg"
  if ! (cd "$dl" && apt-get "${apt_opts[@]}" -qq download "$pkg"); then
    apt_update
    (cd "$dl" && apt-get "${apt_opts[@]}" -qq download "$pkg")
  fi
}
fetch "$kpkg"
fetch busybox-static

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$(compgen -G "$dl/${kpkg}_*.deb" | head -n 1)" "$work/kernel"
dpkg-deb -x "$(compgen -G "$dl/busybox-static_*.deb" | head -n 1)" "$work/busybox"

kver=${kpkg#linux-image-}
moddir=$work/kernel/lib/modules/$kver
[[ -f $work/kernel/boot/vmlinuz-$kver && -d $moddir ]] || {
  log "unexpected kernel package layout (no vmlinuz-$kver or modules)"
  exit 1
}

# Module name -> path relative to lib/modules/$kver. Debian 12 ships plain .ko.
declare -A modpath
while IFS= read -r -d '' f; do
  name=$(basename "$f" .ko)
  modpath[${name//-/_}]=${f#"$moddir"/}
done < <(find "$moddir/kernel" -name '*.ko' -print0)

mod_depends() {
  # The depends= field of the module's .modinfo section.
  tr '\0' '\n' < "$moddir/${modpath[$1]}" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Depth-first: dependencies before the module itself.
declare -A seen
order=()
visit() {
  local mod=${1//-/_} dep
  [[ -n ${seen[$mod]:-} ]] && return 0
  seen[$mod]=1
  [[ -n ${modpath[$mod]:-} ]] || { log "module $mod not found in $kpkg"; exit 1; }
  for dep in $(mod_depends "$mod"); do
    visit "$dep"
  done
  order+=("$mod")
}
for mod in "${want_modules[@]}"; do
  visit "$mod"
done
log "modules: ${order[*]}"

# The initramfs tree.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,root,lib/modules/"$kver"}
ln -s bin "$rootfs/sbin"
mkdir -p "$rootfs/usr"
ln -s ../bin "$rootfs/usr/bin"
ln -s ../bin "$rootfs/usr/sbin"
install -m 755 "$work/busybox/bin/busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
done
: > "$rootfs/lib/modules/load-order"
for mod in "${order[@]}"; do
  install -D -m 644 "$moddir/${modpath[$mod]}" "$rootfs/lib/modules/$kver/${modpath[$mod]}"
  echo "${modpath[$mod]}" >> "$rootfs/lib/modules/load-order"
done
install -m 755 "$here/init" "$rootfs/init"
if [[ $(id -u) -eq 0 ]]; then
  mknod -m 600 "$rootfs/dev/console" c 5 1
fi

# Byte-reproducible: fixed mtimes, sorted names, owner 0:0, no gzip timestamp.
find "$rootfs" -exec touch -h -d @0 {} +
(cd "$rootfs" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc --owner=0:0 --reproducible | gzip -9n) > "$work/initramfs.cpio.gz"

install -m 644 "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
mv "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
echo "$kver" > "$out/kernel-release"
echo "$stamp_value" > "$out/stamp"
log "built $out/vmlinuz ($kver) and $out/initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes)"
