"""Print the PostgreSQL URL for the test run, or nothing when there is none.

DATABASE_URL wins when it names PostgreSQL; otherwise a server answering on 127.0.0.1:5432 is used as
user ``postgres`` (trust authentication, as on the development machines). With SEKISHO_REQUIRE_POSTGRES=1
(CI) a missing server is an error, not a skip.
"""

from __future__ import annotations

import os
import socket
import sys

DEFAULT = "postgres://postgres@127.0.0.1:5432/sekisho"


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        print(url)
        return 0
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            print(DEFAULT)
            return 0
    except OSError:
        if os.environ.get("SEKISHO_REQUIRE_POSTGRES") == "1":
            print(
                "PostgreSQL is required (SEKISHO_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer",
                file=sys.stderr,
            )
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
