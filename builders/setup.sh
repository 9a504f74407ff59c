#!/bin/sh
# Runs once as root while the builder image is built: the user and folders OpenShift's
# conventions expect. The image runs as 1001, or as any UID OpenShift picks, always in
# group 0, so everything the app writes belongs to group 0 with the owner's rights (g=u).
set -eu

app_root=/opt/app-root
home=$app_root/src

# Fail here, not at the first build, when the context lacked warp.
/opt/warp/bin/warp --version

mkdir -p "$home" "$app_root/bin" /usr/libexec/s2i

if ! getent passwd 1001 >/dev/null; then
  if command -v useradd >/dev/null; then
    useradd -u 1001 -g 0 -d "$home" -M -s /bin/sh -c "warp application user" default
  else
    # A base without useradd (busybox-style): the entry is all that matters.
    echo "default:x:1001:0:warp application user:$home:/bin/sh" >>/etc/passwd
  fi
fi

chown -R 1001:0 "$app_root"
chmod -R g=u "$app_root"

# A UID OpenShift picks has no passwd entry; the s2i scripts add one (see s2i/bin/env.sh),
# so group 0 may write /etc/passwd. Set after useradd, which replaces the file.
chgrp 0 /etc/passwd
chmod g=u /etc/passwd
# That write must not lead to root: an entry with UID 0 and no password would let `su`
# (setuid root) in. No program in this image keeps a setuid bit.
find / -xdev -type f -perm -4000 -exec chmod u-s {} +
