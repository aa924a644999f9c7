"""The python-telegram-bot internals visitbot depends on, imported in this one place only.

Why they are needed
-------------------
Two classes wrap or replace PTB's request layer by subclassing
:class:`telegram.request.BaseRequest`: ``bot.metrics.CountingRequest`` (counts every Bot API
response) and ``bot.standin.StandinRequest`` (answers from the in-process Bot API stand-in).
Their ``do_request`` must repeat PTB's signature for ``mypy --strict``, and that signature types
the four timeouts as ``ODVInput[float]`` with ``DEFAULT_NONE`` as the default. The stand-in also
has to tell "no timeout given" (a :class:`DefaultValue`) from an explicit ``None``. PTB does not
export these names publicly; they live in ``telegram._utils``, which may change in any release.

What to check on a PTB upgrade
------------------------------
* the three imports below still resolve (``make test`` fails at import time otherwise);
* ``BaseRequest.do_request`` still takes ``url, method, request_data, read_timeout,
  write_timeout, connect_timeout, pool_timeout`` with ``ODVInput[float]`` timeouts;
* ``BaseRequest.DEFAULT_NONE is DEFAULT_NONE`` (PTB passes this object for "not given");
* PTB still passes ``DEFAULT_NONE`` for a timeout the caller did not set (the stand-in then
  applies its own ``read_timeout``, which is what times out a long poll).
"""

from __future__ import annotations

from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput

__all__ = ["DEFAULT_NONE", "DefaultValue", "ODVInput"]
