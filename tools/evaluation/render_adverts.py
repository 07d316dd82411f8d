"""Render the evaluation job adverts as phone screenshots (PNG) with headless Chromium.

`python -m tools.evaluation.render_adverts tests/eval_sets/offers/adverts.yml --out var/adverts/`

Each advert of the YAML file (schema in the file's header) is laid out in an HTML page that looks
like a WhatsApp status, a Facebook group post, a Telegram channel message or a plain note, with the
font family and size of its `render` entry, and photographed by Debian's Chromium at a phone's width
(412 CSS px, device scale 2, so 824 px wide). A first Chromium pass measures the page height, the
second takes the screenshot at exactly that height. Each PNG carries a hash of the advert and of
this renderer in a text chunk, so a second run skips images that are already up to date.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image
from PIL.PngImagePlugin import PngInfo

TEMPLATES = ("whatsapp", "facebook", "telegram", "plain")
FONTS = {
    "sans": "'DejaVu Sans', 'Noto Sans', sans-serif",
    "serif": "'DejaVu Serif', 'Noto Serif', serif",
    "mono": "'DejaVu Sans Mono', 'Noto Sans Mono', monospace",
}
EMOJI_FONT = "'Noto Color Emoji'"
MIN_SIZE, MAX_SIZE = 14, 28
PHONE_WIDTH = 412  # CSS px (a common Android width)
PHONE_HEIGHT = 860  # CSS px: the shortest screenshot
SCALE = 2
HASH_KEY = "teman-advert-hash"
CHROMIUM_TIMEOUT = 60  # seconds per Chromium run
HEIGHT_ATTR = re.compile(r'data-height="(\d+)"')

STATUS_COLOURS = ("#128C7E", "#7E57C2", "#C0392B", "#1E88E5", "#F39C12", "#2E7D32", "#AD1457")
POSTERS = (
    "Info Loker NTT",
    "Lowongan Kerja Kupang & Sekitarnya",
    "Kabar Kerja Flobamora",
    "Loker Luar Negeri Resmi",
    "Info Kerja Timor - Flores - Sumba",
)


class AdvertError(ValueError):
    """An advert entry the renderer cannot use (the message names the advert)."""


@dataclass(frozen=True)
class Advert:
    id: str
    text: str
    template: str
    font: str
    size: int

    def digest(self, renderer: bytes) -> str:
        payload = json.dumps([self.id, self.text, self.template, self.font, self.size])
        return hashlib.sha256(payload.encode("utf-8") + renderer).hexdigest()


def load_adverts(path: Path) -> list[Advert]:
    """The adverts of a YAML file; raises AdvertError with the advert id on a bad entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    adverts = []
    for index, raw in enumerate(data.get("adverts") or []):
        ident = str(raw.get("id") or f"#{index + 1}")
        render = raw.get("render") or {}
        template = str(render.get("template", "plain"))
        font = str(render.get("font", "sans"))
        try:
            size = int(render.get("size", 18))
        except (TypeError, ValueError) as error:
            raise AdvertError(f"{ident}: render.size must be a number") from error
        if not str(raw.get("text") or "").strip():
            raise AdvertError(f"{ident}: empty text")
        if template not in TEMPLATES:
            raise AdvertError(f"{ident}: template {template!r} not in {TEMPLATES}")
        if font not in FONTS:
            raise AdvertError(f"{ident}: font {font!r} not in {tuple(FONTS)}")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise AdvertError(f"{ident}: size {size} outside {MIN_SIZE}..{MAX_SIZE}")
        adverts.append(Advert(ident, str(raw["text"]).rstrip(), template, font, size))
    return adverts


def _pick(options: tuple[str, ...], key: str) -> str:
    return options[int(hashlib.md5(key.encode()).hexdigest(), 16) % len(options)]


STATUS_BAR = '<div class="status"><span>10.42</span><span>📶 🔋 78%</span></div>'


def _body(advert: Advert) -> str:
    text = html.escape(advert.text)
    poster = html.escape(_pick(POSTERS, advert.id))
    if advert.template == "whatsapp":
        return f"""
<div class="screen wa" style="background:{_pick(STATUS_COLOURS, advert.id)}">{STATUS_BAR}
  <div class="bars"><i></i><i class="on"></i><i></i></div>
  <div class="head"><span class="avatar"></span><b>{poster}</b><small>Hari ini 08.15</small></div>
  <div class="wa-text">{text}</div>
  <div class="reply">⌃<br>Balas</div>
</div>"""
    if advert.template == "facebook":
        return f"""
<div class="screen fb">{STATUS_BAR}
  <div class="fb-top">facebook</div>
  <div class="card">
    <div class="head"><span class="avatar"></span><div><b>{poster}</b><br>
      <small>2 j · 👥</small></div></div>
    <div class="fb-text">{text}</div>
    <div class="counts">👍❤️ 128 <span>45 komentar · 12 kali dibagikan</span></div>
    <div class="actions"><span>👍 Suka</span><span>💬 Komentari</span><span>↪ Bagikan</span></div>
  </div>
</div>"""
    if advert.template == "telegram":
        return f"""
<div class="screen tg">{STATUS_BAR}
  <div class="tg-top"><span class="avatar"></span><div><b>{poster}</b><br>
    <small>12.480 pelanggan</small></div></div>
  <div class="bubble"><div class="tg-text">{text}</div><div class="meta">👁 1,2K 10.42</div></div>
</div>"""
    return f"""
<div class="screen plain">{STATUS_BAR}<div class="plain-text">{text}</div></div>"""


def build_html(advert: Advert) -> str:
    """The advert as a self-contained phone-screen page."""
    family = f"{FONTS[advert.font]}, {EMOJI_FONT}"
    size = advert.size
    css = f"""
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; }}
body {{ width: {PHONE_WIDTH}px; font-family: {family}; font-size: {size}px; line-height: 1.4; }}
.screen {{ min-height: {PHONE_HEIGHT}px; width: {PHONE_WIDTH}px; position: relative; }}
.status {{ height: 24px; font: 12px 'DejaVu Sans', {EMOJI_FONT}; display: flex;
  justify-content: space-between; padding: 4px 12px; }}
.avatar {{ display: inline-block; width: 40px; height: 40px; border-radius: 50%;
  background: linear-gradient(135deg, #90a4ae, #546e7a); flex: none; margin-right: 10px; }}
.head {{ display: flex; align-items: center; font-size: 14px; font-family: 'DejaVu Sans'; }}
.head small {{ color: inherit; opacity: .75; margin-left: 8px; }}
.wa {{ color: #fff; display: flex; flex-direction: column; padding: 0 12px 16px; }}
.wa .status {{ padding: 4px 0; }}
.bars {{ display: flex; gap: 4px; }}
.bars i {{ flex: 1; height: 3px; background: rgba(255,255,255,.45); border-radius: 2px; }}
.bars i.on {{ background: #fff; }}
.wa .head {{ margin-top: 10px; }}
.wa-text {{ flex: 1; display: flex; align-items: center; justify-content: center;
  text-align: center; white-space: pre-wrap; overflow-wrap: anywhere; padding: 32px 8px; }}
.reply {{ text-align: center; font: 13px 'DejaVu Sans'; opacity: .85; }}
.fb {{ background: #f0f2f5; color: #050505; }}
.fb-top {{ background: #fff; color: #1877f2; font: bold 26px 'DejaVu Sans'; padding: 8px 14px;
  border-bottom: 1px solid #ddd; }}
.card {{ background: #fff; margin-top: 8px; padding: 12px 14px 4px; }}
.card small {{ color: #65676b; margin-left: 0; opacity: 1; }}
.fb-text {{ white-space: pre-wrap; overflow-wrap: anywhere; margin: 12px 0; }}
.counts {{ font: 13px 'DejaVu Sans', {EMOJI_FONT}; color: #65676b; display: flex;
  justify-content: space-between; padding: 6px 0; border-bottom: 1px solid #e4e6eb; }}
.actions {{ display: flex; justify-content: space-around; font: 14px 'DejaVu Sans', {EMOJI_FONT};
  color: #65676b; padding: 10px 0; }}
.tg {{ background: #c9d9b5; color: #000; padding-bottom: 16px; display: flex;
  flex-direction: column; }}
.tg-top {{ background: #517da2; color: #fff; display: flex; align-items: center;
  padding: 8px 12px; font: 15px 'DejaVu Sans'; }}
.tg-top small {{ opacity: .8; }}
.tg .status {{ background: #4a7397; color: #fff; }}
.fb .status {{ background: #fff; }}
.bubble {{ background: #fff; margin: auto 48px 0 10px; border-radius: 14px 14px 14px 4px;
  padding: 8px 12px 6px; box-shadow: 0 1px 1px rgba(0,0,0,.2); }}
.tg-text {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
.meta {{ text-align: right; font: 11px 'DejaVu Sans', {EMOJI_FONT}; color: #8a9aa8; }}
.plain {{ background: #fffdf7; color: #222; }}
.plain-text {{ white-space: pre-wrap; overflow-wrap: anywhere; padding: 16px 18px; }}
"""
    # The script records the rendered height for the measuring pass.
    script = (
        "document.body.setAttribute('data-height', String(Math.ceil("
        "document.querySelector('.screen').getBoundingClientRect().height)));"
    )
    return (
        f'<!DOCTYPE html><html lang="id"><head><meta charset="utf-8"><style>{css}</style>'
        f"</head><body>{_body(advert)}<script>{script}</script></body></html>"
    )


def _chromium(binary: str, profile: Path, args: list[str], page: Path) -> str:
    command = [
        binary,
        "--headless",
        "--no-sandbox",  # the tool may run as root in containers
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--mute-audio",
        f"--force-device-scale-factor={SCALE}",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(f"chromium failed ({result.returncode}): {' | '.join(tail)}")
    return result.stdout


def render_one(advert: Advert, target: Path, binary: str, digest: str) -> tuple[int, int]:
    """Render one advert to `target`; returns the PNG's (width, height) in pixels."""
    with tempfile.TemporaryDirectory(prefix="teman-adverts-") as tmp:
        workdir = Path(tmp)
        page = workdir / f"{advert.id}.html"
        page.write_text(build_html(advert), encoding="utf-8")
        dom = _chromium(
            binary, workdir / "profile", ["--dump-dom", f"--window-size={PHONE_WIDTH},200"], page
        )
        found = HEIGHT_ATTR.search(dom)
        if not found:
            raise RuntimeError(f"{advert.id}: chromium did not report the page height")
        height = max(int(found.group(1)), PHONE_HEIGHT)
        shot = workdir / "shot.png"
        _chromium(
            binary,
            workdir / "profile",
            [f"--screenshot={shot}", f"--window-size={PHONE_WIDTH},{height}"],
            page,
        )
        with Image.open(shot) as image:
            info = PngInfo()
            info.add_text(HASH_KEY, digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".tmp.png")
            image.convert("RGB").save(partial, pnginfo=info)
            partial.replace(target)  # a crash never leaves a half-written PNG behind
            return image.size


def is_up_to_date(target: Path, digest: str) -> bool:
    if not target.exists():
        return False
    try:
        with Image.open(target) as image:
            return getattr(image, "text", {}).get(HASH_KEY) == digest
    except OSError:
        return False


def render_all(
    adverts: Iterable[Advert],
    out: Path,
    binary: str,
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> dict[str, str]:
    """Render every advert not already up to date; returns {id: "rendered"|"skipped"}."""
    renderer = Path(__file__).read_bytes()
    items = list(adverts)
    outcome: dict[str, str] = {}
    for number, advert in enumerate(items, start=1):
        target = out / f"{advert.id}.png"
        digest = advert.digest(renderer)
        prefix = f"[{number}/{len(items)}] {advert.id}"
        if not force and is_up_to_date(target, digest):
            outcome[advert.id] = "skipped"
            progress(f"{prefix}: up to date")
            continue
        width, height = render_one(advert, target, binary, digest)
        outcome[advert.id] = "rendered"
        progress(f"{prefix}: {advert.template}, {width}x{height} -> {target}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("adverts", type=Path, help="YAML file with an `adverts:` list")
    parser.add_argument("--out", type=Path, default=Path("var/adverts"))
    parser.add_argument("--only", action="append", default=[], help="advert id (repeatable)")
    parser.add_argument("--force", action="store_true", help="render even if up to date")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    try:
        adverts = load_adverts(args.adverts)
    except (OSError, yaml.YAMLError, AdvertError) as error:
        print(f"cannot read {args.adverts}: {error}", file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {a.id for a in adverts}
        if unknown:
            print(f"unknown advert id(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        adverts = [a for a in adverts if a.id in args.only]
    if not Path(args.chromium).exists():
        print(f"chromium not found at {args.chromium} (scripts/setup_system.sh)", file=sys.stderr)
        return 2
    outcome = render_all(adverts, args.out, args.chromium, force=args.force)
    rendered = sum(1 for v in outcome.values() if v == "rendered")
    print(f"{rendered} rendered, {len(outcome) - rendered} up to date, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
