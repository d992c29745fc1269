"""What a backup or a restore refuses, in words an administrator can act on (the commands print the message
and exit non-zero; nothing has been changed when one of these is raised before the restore starts writing)."""

from __future__ import annotations


class OpsError(Exception):
    """A backup or restore that cannot go on. ``str()`` is the message for the administrator."""


class ArchiveDamaged(OpsError):
    """The archive is not the one the key file was made for: damaged, truncated or tampered with.
    ``members`` names the members that failed (their logical names where the manifest could be read)."""

    def __init__(self, problems: list[str], members: list[str] | None = None) -> None:
        self.problems = problems
        self.members = members or []
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"バックアップアーカイブが壊れているか改ざんされています。復元しません。\n{lines}\n"
            "(The backup archive is damaged or has been tampered with; nothing was restored.)"
        )


class WrongKey(OpsError):
    """The key file does not open with the identity or passphrase given, or belongs to another backup."""


class NotEmpty(OpsError):
    """The deployment to restore into already holds data."""
