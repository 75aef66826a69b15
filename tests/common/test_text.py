"""One clipper for every bounded message."""

from __future__ import annotations

from webhooks.common.text import clip


def test_short_text_is_left_alone_and_long_text_is_cut_with_a_mark() -> None:
    assert clip("fine", 10) == "fine"
    cut = clip("x" * 300)
    assert len(cut) == 256 and cut.endswith("…")


def test_one_line_folds_white_space_and_control_characters() -> None:
    assert clip("back-off\n  40s\x00restarting", 160, one_line=True) == "back-off 40s restarting"


def test_text_for_http_headers_is_marked_in_ascii() -> None:
    cut = clip("deny " * 40, 120, one_line=True, ascii_mark=True)
    assert len(cut) == 120 and cut.endswith("de...")
    assert cut.isascii()
