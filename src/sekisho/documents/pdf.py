"""PDF documents through Typst, in-process, with the IPAex fonts shipped in this package.

A document is a Typst template in ``typst/`` (or an app's own directory) that reads its data from
``json(bytes(sys.inputs.data))``. System fonts are ignored, so a PDF renders the same everywhere and always
embeds the Japanese font.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typst
from django.core.serializers.json import DjangoJSONEncoder

FONT_DIR = Path(__file__).resolve().parent / "fonts"
TYPST_DIR = Path(__file__).resolve().parent / "typst"


class DocumentError(RuntimeError):
    """A template failed to compile: a bug in the template or its data, never the user's fault."""


def render_pdf(template: Path | str, data: dict[str, Any]) -> bytes:
    """Compile *template* (a path, or a name in ``documents/typst/``) with *data* into PDF bytes.

    Templates may ``#import "/common.typ": *`` — the root is ``documents/typst/`` when the template lives there,
    else the template's own directory (which may hold its own copy or a symlink-free import of common styles).
    """
    path = Path(template)
    if not path.is_absolute():
        path = TYPST_DIR / path
    root = TYPST_DIR if TYPST_DIR in path.parents else path.parent
    try:
        return bytes(
            typst.compile(
                str(path),
                root=str(root),
                font_paths=[str(FONT_DIR)],
                ignore_system_fonts=True,
                sys_inputs={"data": json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)},
            )
        )
    except RuntimeError as exc:
        raise DocumentError(f"{path.name}: {exc}") from exc
