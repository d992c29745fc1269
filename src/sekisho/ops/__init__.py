"""Operations on a whole deployment: backup, restore and the restore check (``sekisho backup``,
``sekisho restore``). A plain package, not an app: it has no models; the commands live in ``sekisho.core``."""
