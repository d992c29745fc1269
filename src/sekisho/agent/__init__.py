"""The posture agent that runs on staff PCs (Windows, macOS, Linux).

It needs only the standard library and ``cryptography``: no Django, no third-party HTTP client. It enrols the
PC with a one-time code (making an Ed25519 key pair that never leaves the PC), reads the security facts from
the operating system, signs its reports with the device key and sends them to the server.
"""

__version__ = "0.1.0"
