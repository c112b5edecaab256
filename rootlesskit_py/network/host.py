"""`--net=host`: the command shares the host's network namespace."""

from __future__ import annotations

from rootlesskit_py.network import NetworkDriver, reject_namespace_options


class Driver(NetworkDriver):
    name = "host"
    creates_netns = False

    def validate(self) -> None:
        reject_namespace_options(self.options, self.name)

    def api_info(self, config: object) -> None:
        return None  # the API has no networkDriver for --net=host
