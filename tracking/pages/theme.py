"""A brand's colours made safe to read, and the tiny stylesheet that carries them.

The page's CSP allows styles from our own origin only (no inline <style>, no style=""), so a
brand's colours reach the page as a stylesheet whose URL names the colours themselves:
/theme/v1/1f4e5f-b5542d.css. The URL changes whenever the colours do, so the file can be
cached for a year, and serving it needs no query.

Every colour is checked against WCAG 2.2's contrast ratio before use: white text sits on the
primary colour (buttons) and the accent colour is used for links and the progress bar on
white, and both appear as text on a light tint of themselves (badges), so each must reach
4.5:1 against white and against its tint. A colour that fails is darkened, keeping its hue,
until it passes.
"""

from __future__ import annotations

import re

HEX = re.compile(r"^#?([0-9a-fA-F]{6})\Z")
WHITE = "#ffffff"
BLACK = "#000000"
MINIMUM_CONTRAST = 4.5  # WCAG 2.2 SC 1.4.3, normal-size text
DEFAULT_PRIMARY = "#1f4e8c"
DEFAULT_ACCENT = "#0b7a53"
THEME_VERSION = "v1"  # part of the URL: bump when theme_css() changes shape
# Badges print a brand colour on a 90% white tint of itself; the colour must be readable there.
TINT = 0.9


def parse_hex(colour: str) -> tuple[int, int, int] | None:
    """'#1f4e8c' (or '1f4e8c') as an (r, g, b) tuple, or None when it is not such a colour."""
    match = HEX.match(colour.strip()) if isinstance(colour, str) else None
    if match is None:
        return None
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour, 0 (black) to 1 (white)."""
    rgb = parse_hex(colour)
    if rgb is None:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio between two colours, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def mix(colour: str, other: str, amount: float) -> str:
    """`colour` moved `amount` (0..1) of the way towards `other`."""
    a, b = parse_hex(colour), parse_hex(other)
    if a is None or b is None:
        raise ValueError(f"not #rrggbb colours: {colour!r}, {other!r}")
    return to_hex(tuple(x + (y - x) * amount for x, y in zip(a, b, strict=True)))


def _readable(colour: str, against: str, minimum: float, tint: float | None) -> bool:
    if contrast_ratio(colour, against) < minimum:
        return False
    return tint is None or contrast_ratio(colour, mix(colour, WHITE, tint)) >= minimum


def safe_colour(
    colour: str,
    *,
    against: str = WHITE,
    minimum: float = MINIMUM_CONTRAST,
    default: str = DEFAULT_PRIMARY,
    tint: float | None = None,
) -> str:
    """`colour` (lower-case #rrggbb) when it reaches `minimum` contrast against `against`
    (and, with `tint`, against its own light tint, for text on a tinted badge); otherwise the
    same hue darkened just enough to pass (black passes against white, so this always ends).
    Something that is not a colour at all gives `default`."""
    if parse_hex(colour) is None:
        colour = default
    colour = to_hex(parse_hex(colour))
    if _readable(colour, against, minimum, tint):
        return colour
    for step in range(1, 41):
        darker = mix(colour, BLACK, step / 40)
        if _readable(darker, against, minimum, tint):
            return darker
    return BLACK


def slug(primary: str, accent: str) -> str:
    """The theme file's name for two brand colours, after making them safe: '1f4e5f-b5542d'."""
    safe_primary = safe_colour(primary, default=DEFAULT_PRIMARY, tint=TINT)
    safe_accent = safe_colour(accent, default=DEFAULT_ACCENT, tint=TINT)
    return f"{safe_primary[1:]}-{safe_accent[1:]}"


def theme_css(primary: str, accent: str) -> str:
    """The stylesheet for a brand: its safe colours and light tints as CSS variables."""
    primary = safe_colour(primary, default=DEFAULT_PRIMARY, tint=TINT)
    accent = safe_colour(accent, default=DEFAULT_ACCENT, tint=TINT)
    variables = {
        "--brand-primary": primary,
        "--brand-primary-tint": mix(primary, WHITE, TINT),
        "--brand-primary-soft": mix(primary, WHITE, 0.75),
        "--brand-accent": accent,
        "--brand-accent-tint": mix(accent, WHITE, TINT),
        "--brand-accent-soft": mix(accent, WHITE, 0.7),
        "--on-brand": WHITE,
    }
    body = "".join(f"{name}:{value};" for name, value in variables.items())
    return f"/* brand colours, contrast-checked against white (WCAG 4.5:1) */\n:root{{{body}}}\n"
