"""Version strings.

VERSION is the RootlessKit release whose user-visible surface we implement; scripts compare it
(`rootlesskit --print-semver major`), and the REST API reports it, so it follows upstream numbering.
"""

VERSION = "3.2.0"
# 1.1.2 added networkDriver.ipv6 (RootlessKit v3.0.2), 1.1.3 portDriver.extra (v3.2.0)
API_VERSION = "1.1.3"
