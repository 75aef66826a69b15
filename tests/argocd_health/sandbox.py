"""Argo CD's health-script sandbox, rebuilt on Lua 5.1 (lupa) for tests.

Argo CD runs health.lua in gopher-lua (Lua 5.1) with only the base, table and package
libraries and a "safe" os (time, date). Everything else — string, math, io, debug, coroutine,
the rest of os, loading files — is absent, and with the string library absent a string has no
methods either (``s:sub(1)`` fails). This module gives each case a fresh runtime shaped the same
way, so a script passing here does not rely on anything Argo CD lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lupa import lua51

_SANDBOX = """
local keep_time, keep_date = os.time, os.date
-- Strings lose their methods: in gopher-lua without the string library they have none.
debug.setmetatable("", nil)
string, math, io, debug, coroutine = nil, nil, nil, nil, nil
dofile, loadfile = nil, nil
os = {time = keep_time, date = keep_date}
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
    script: str, obj: dict[str, Any], *, on_line: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Run ``script`` with global ``obj`` in a fresh sandbox; the table it returns, as a dict."""
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
    runtime.execute(_SANDBOX)
    runtime.globals().obj = to_lua(runtime, obj)
    # Lua 5.1: loadstring compiles text (load takes a reader function).
    loaded = runtime.globals().loadstring(script, "=health.lua")
    if isinstance(loaded, tuple):  # (nil, message): the script does not compile
        raise SyntaxError(str(loaded[1]))
    chunk = loaded
    result = chunk()
    return {str(k): result[k] for k in result} if result is not None else {}
