"""Argo CD's health-script sandbox, rebuilt on Lua 5.1 (lupa) for tests.

Argo CD runs health.lua in gopher-lua (Lua 5.1) with only the base, table and package
libraries and a "safe" os holding exactly ``time`` and ``date`` (util/lua/oslib_safe.go; also
what ``require("os")`` returns there). Everything else — string, math, io, debug, coroutine,
the rest of os, loading files — is absent, and with the string library absent a string has no
methods either (``s:sub(1)`` fails). This module gives each case a fresh runtime shaped the same
way, so a script passing here does not rely on anything Argo CD lacks.

The clock is the test's: ``now`` pins ``os.time()`` (and ``os.date``'s default time) to given
Unix seconds, and ``with_os=False`` leaves ``os`` out altogether, as a sandbox without the safe
os library would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lupa import lua51

_SANDBOX = """
local now, with_os = ...
local keep_time, keep_date = os.time, os.date
local safe_os = nil
if with_os then
  if now == nil then
    safe_os = {time = keep_time, date = keep_date}
  else
    -- A pinned clock: os.time() is `now`; os.time{...} and os.date(fmt, t) work as usual.
    safe_os = {
      time = function(t) if t == nil then return now end return keep_time(t) end,
      date = function(fmt, t) return keep_date(fmt or "%c", t or now) end,
    }
  end
end
-- Strings lose their methods: in gopher-lua without the string library they have none.
debug.setmetatable("", nil)
string, math, io, debug, coroutine = nil, nil, nil, nil, nil
dofile, loadfile = nil, nil
os = safe_os
-- require() finds only what Argo CD preloads (its safe os), never a library removed above.
for name in pairs(package.loaded) do
  if name ~= "_G" and name ~= "package" and name ~= "table" then
    package.loaded[name] = nil
  end
end
package.loaded.os = safe_os
package.path, package.cpath = "", ""
package.loaders = {package.loaders[1]}
package.preload = {}
"""


def to_lua(runtime: Any, value: Any) -> Any:
    """YAML/JSON data as Lua values: dicts and lists become tables, null keys disappear."""
    if isinstance(value, dict):
        table = runtime.table()
        for k, v in value.items():
            if v is not None:
                table[k] = to_lua(runtime, v)
        return table
    if isinstance(value, list):
        table = runtime.table()
        for i, v in enumerate(value, start=1):  # Lua arrays start at 1
            table[i] = to_lua(runtime, v)
        return table
    return value


def run_health(
    script: str,
    obj: dict[str, Any],
    *,
    now: int | None = None,
    with_os: bool = True,
    on_line: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``script`` with global ``obj`` in a fresh sandbox; the table it returns, as a dict.

    ``now``: the Unix seconds ``os.time()`` returns (None: the real clock, as in Argo CD);
    ``with_os=False``: no ``os`` at all."""
    runtime = lua51.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True
    )
    if on_line is not None:
        # Record executed lines of the script (chunk name "health.lua") before debug goes away.
        hook = runtime.eval(
            "function(report) local getinfo = debug.getinfo "
            "debug.sethook(function(_, line) "
            "local info = getinfo(2, 'S') "
            "if info.source == '=health.lua' then report(line) end end, 'l') end"
        )
        hook(on_line)
    runtime.execute(_SANDBOX, now, with_os)
    runtime.globals().obj = to_lua(runtime, obj)
    # Lua 5.1: loadstring compiles text (load takes a reader function).
    loaded = runtime.globals().loadstring(script, "=health.lua")
    if isinstance(loaded, tuple):  # (nil, message): the script does not compile
        raise SyntaxError(str(loaded[1]))
    chunk = loaded
    result = chunk()
    return {str(k): result[k] for k in result} if result is not None else {}


# gitops-engine's healthOrder, most to least healthy: an application's health is the worst of
# its resources' (Argo CD's app health assessment).
ARGO_HEALTH_ORDER = ["Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"]


def app_health(*statuses: str) -> str:
    return max(statuses, key=ARGO_HEALTH_ORDER.index)
