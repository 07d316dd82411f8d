"""The advert renderer produces phone-sized, non-blank PNGs with real headless Chromium."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageStat

from tools.evaluation.render_adverts import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    SCALE,
    load_adverts,
    main,
    render_all,
)

CHROMIUM = "/usr/bin/chromium"

ADVERTS = """
adverts:
  - id: t-wa
    kind: fake
    text: |
      🔥 LOWONGAN KAMBOJA 🔥
      Admin chat, gaji 20 juta
      Minat chat Telegram
    flags: [online_scam, salary_too_high, chat_only_contact]
    render: {template: whatsapp, font: sans, size: 22}
  - id: t-fb
    kind: legit
    text: |
      LOWONGAN RESMI HONG KONG
{long_lines}
    flags: []
    render: {template: facebook, font: serif, size: 16}
"""


def _write(tmp_path: Path) -> Path:
    line = "      baris {}: pelatihan di LPK, bebas biaya penempatan"
    lines = "\n".join(line.format(i) for i in range(60))
    path = tmp_path / "adverts.yml"
    path.write_text(ADVERTS.replace("{long_lines}", lines), encoding="utf-8")
    return path


def _dark_fraction(image: Image.Image) -> float:
    grey = image.convert("L")
    dark = sum(grey.histogram()[:100])
    return dark / (grey.width * grey.height)


def test_renders_two_adverts_as_phone_screenshots(tmp_path: Path) -> None:
    adverts = load_adverts(_write(tmp_path))
    out = tmp_path / "png"
    messages: list[str] = []

    outcome = render_all(adverts, out, CHROMIUM, progress=messages.append)

    assert outcome == {"t-wa": "rendered", "t-fb": "rendered"}
    assert len(messages) == 2 and messages[0].startswith("[1/2] t-wa")
    with Image.open(out / "t-wa.png") as status, Image.open(out / "t-fb.png") as post:
        assert status.width == post.width == PHONE_WIDTH * SCALE
        assert status.height == PHONE_HEIGHT * SCALE  # a short status fills one screen
        assert post.height > PHONE_HEIGHT * SCALE  # 60 lines of text make the post taller
        # Not blank: the coloured status has white text, the post has dark text on white.
        assert len(status.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50
        assert max(ImageStat.Stat(status.convert("L")).extrema[0]) > 200
        assert 0.005 < _dark_fraction(post) < 0.5
        # The last text line is inside the picture (the page was measured, not cut).
        assert _dark_fraction(post.crop((0, post.height - 400, post.width, post.height))) > 0.001


def test_second_run_skips_up_to_date_images(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path)
    out = tmp_path / "png"
    assert main([str(path), "--out", str(out), "--only", "t-wa", "--chromium", CHROMIUM]) == 0
    first = (out / "t-wa.png").stat().st_mtime_ns
    capsys.readouterr()

    assert main([str(path), "--out", str(out), "--only", "t-wa", "--chromium", CHROMIUM]) == 0

    assert "up to date" in capsys.readouterr().out
    assert (out / "t-wa.png").stat().st_mtime_ns == first
    assert not (out / "t-fb.png").exists()


def test_bad_advert_is_a_clear_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        "adverts:\n  - id: x1\n    text: hai\n"
        "    render: {template: tiktok, font: sans, size: 18}\n",
        encoding="utf-8",
    )
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2
    assert "x1" in capsys.readouterr().err
