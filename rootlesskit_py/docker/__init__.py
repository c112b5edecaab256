"""The two Docker programs' logic: dockerd-rootless.sh (start dockerd under rootlesskit) and
dockerd-rootless-setuptool.sh (check the host, install the systemd user unit). They sit above
rootlesskit's own floors and reach rootlesskit only as a program, by name on PATH, as upstream's
scripts do: a setcap or AppArmor profile on that file must apply."""
