"""Version strings.

VERSION is the RootlessKit release whose user-visible surface we implement; scripts compare it
(`rootlesskit --print-semver major`), and the REST API reports it, so it follows upstream numbering.
"""

VERSION = "3.0.1"
API_VERSION = "1.1.1"
