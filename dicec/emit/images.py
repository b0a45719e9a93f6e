"""Which container image each emitted step runs: the operators' own, ``--image``, ``--operator-image``, per arch.

Every operator spec names the image its steps run (``image:``, dicec's vision image by default,
``images/Dockerfile.vision``). A user who builds and pushes that image under their own name, or builds one
with their own models, says so at compile time:

* ``--image REF``: every step, the answer step, every model server, every batch stage pod and the answer
  server run ``REF``;
* ``--operator-image OP=REF`` (repeatable): the steps and servers of operator ``OP`` run ``REF`` (it wins
  over ``--image`` for that operator; an operator the question does not use is refused, so a typo is not
  silently ignored). The answer step runs ``--image``, else the image of the operators without an override
  (the first by name), else dicec's vision image: an override is an operator's own business;
* ``--arch-image ARCH=REF`` (repeatable): steps on a pool whose nodes are of architecture ``ARCH``
  (``arm64`` for a Jetson; the pool's ``arch``, :class:`dicec.placement.pools.Pool`) run ``REF``. dicec's
  vision image is built for ``amd64`` only (its CUDA wheels are x86-64 ones), so a step on another
  architecture without ``--arch-image`` names the image's tag with ``-ARCH`` appended
  (``ghcr.io/dicec/vision:0.1.0-arm64``): a name for an image built for that architecture (a Jetson's from
  an L4T base), which dicec does not build. A multi-arch image (one manifest list for both) is given as
  ``--arch-image arm64=REF`` with the same ``REF``. Every step also selects its pool's architecture
  (``nodeSelector`` ``kubernetes.io/arch``), so an amd64 image never lands on an arm64 node.

A reference is validated where it is given (:func:`image_reference`): the grammar of
``distribution/reference`` (``[HOST[:PORT]/]NAME[:TAG][@DIGEST]``, lower-case path components), so
nothing but an image name reaches the YAML, where it is a plain string scalar.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Iterable

from dicec import __version__
from dicec.errors import DicecError
from dicec.placement.pools import ARCHES, DEFAULT_ARCH

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
#: ``distribution/reference``'s grammar: name (optionally behind a registry host), tag, digest.
REFERENCE = re.compile(rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?"
                       rf"(?:@(?P<digest>{_DIGEST}))?$")
MAX_NAME = 255
_OPERATOR = re.compile(r"^[a-z_][a-z0-9_]*$")


def default_image() -> str:
    """dicec's vision image (``images/Dockerfile.vision``) at this version."""
    return f"ghcr.io/dicec/vision:{__version__}"


def image_reference(text: Any, *, what: str) -> str:
    """``text`` if it is a container image reference, else a one-line error naming ``what`` (the flag)."""
    m = REFERENCE.match(text) if isinstance(text, str) else None
    if m is None or len(m.group("name")) > MAX_NAME:
        raise DicecError(f"{what} {text!r} is not a container image reference ([HOST[:PORT]/]NAME[:TAG][@DIGEST], "
                         "lower-case name, e.g. registry.example.com/team/vision:1.2)")
    return text


def pairs(values: Iterable[str], *, what: str, key: str) -> tuple[tuple[str, str], ...]:
    """``("KEY=REF", ...)`` from a repeatable flag as sorted ``(KEY, REF)`` pairs, each REF validated; a KEY
    given twice is refused."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, ref = str(value).partition("=")
        if not sep or not name:
            raise DicecError(f"{what} {value!r}: expected {key}=IMAGE")
        if name in out:
            raise DicecError(f"{what}: {name} is given twice")
        out[name] = image_reference(ref, what=f"{what} {name}=")
    return tuple(sorted(out.items()))


def check_options(*, image: str | None, operator_images: tuple, arch_images: tuple) -> None:
    """Validate the image options of :class:`dicec.emit.argo.EmitOptions` (one line each)."""
    if image is not None:
        image_reference(image, what="--image")
    for op, ref in operator_images:
        if not isinstance(op, str) or not _OPERATOR.match(op):
            raise DicecError(f"--operator-image {op!r}: not an operator name")
        image_reference(ref, what=f"--operator-image {op}=")
    for arch, ref in arch_images:
        if arch not in ARCHES:
            raise DicecError(f"--arch-image {arch}=: the architecture is one of {', '.join(ARCHES)}")
        image_reference(ref, what=f"--arch-image {arch}=")


def with_images(placed: Any, options: Any) -> Any:
    """``placed`` with its operators' images replaced by ``--image`` and ``--operator-image``."""
    overrides = dict(options.operator_images)
    if options.image is None and not overrides:
        return placed
    images = {op: overrides.get(op, options.image or image) for op, image in placed.images.items()}
    return placed if images == placed.images else replace(placed, images=images)


def check_operators(operator_images: tuple, used: Iterable[str]) -> None:
    """Refuse an ``--operator-image`` for an operator the compiled questions do not use."""
    used = sorted(set(used))
    for op, _ in operator_images:
        if op not in used:
            raise DicecError(f"--operator-image {op}=...: the workflow runs no {op!r} step (its operators: "
                             f"{', '.join(used) or 'none'})")


def answer_image(images: dict[str, str], options: Any = None) -> str:
    """The answer step's (and answer server's) image: ``--image``, else the first by name of the images of the
    operators without an ``--operator-image``, else dicec's vision image."""
    if options is not None and options.image is not None:
        return options.image
    overridden = dict(options.operator_images) if options is not None else {}
    own = sorted({image for op, image in images.items() if op not in overridden})
    return own[0] if own else default_image()


def for_arch(image: str, pool: Any, options: Any = None) -> str:
    """The image a step on ``pool`` runs: ``image`` on an amd64 pool; on another architecture the
    ``--arch-image`` given for it, else ``image``'s tag with ``-ARCH`` appended (see the module docstring)."""
    arch = getattr(pool, "arch", DEFAULT_ARCH)
    if arch == DEFAULT_ARCH:
        return image
    given = dict(options.arch_images) if options is not None else {}
    if arch in given:
        return given[arch]
    m = REFERENCE.match(image)
    if m is None or m.group("digest"):
        raise DicecError(f"steps on pool {pool.name!r} ({arch}) need an image built for {arch}; {image!r} is pinned "
                         f"by digest, so dicec cannot name one: give --arch-image {arch}=IMAGE")
    return f"{m.group('name')}:{m.group('tag') or 'latest'}-{arch}"
