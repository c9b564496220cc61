#!/usr/bin/env bash
# The few system packages Vigie needs beyond Python wheels: fonts that draw every script
# of the notices (Arabic, Hebrew, Cyrillic, Chinese, Ethiopic for Tigrinya, Bengali) in PDF
# letters, and HarfBuzz's subsetter that WeasyPrint uses to embed them; Chromium for the browser tests of the public
# pages (Playwright drives Debian's /usr/bin/chromium, it downloads no browser). Installs them with apt-get when they are
# missing and this is a Debian-like machine where we may (root); otherwise says what to
# install and carries on (the tests that need them then fail with that message).
set -u
PACKAGES="fonts-dejavu-core fonts-sil-scheherazade fonts-noto-cjk fonts-sil-abyssinica fonts-lohit-beng-bengali libharfbuzz-subset0 chromium"

have_all() {
    ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset.so \
        && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
        && fc-list 2>/dev/null | grep -qi "Scheherazade" \
        && fc-list 2>/dev/null | grep -qi "Abyssinica SIL" \
        && fc-list 2>/dev/null | grep -qi "Lohit Bengali" \
        && fc-list 2>/dev/null | grep -qi "DejaVu Sans" \
        && [ -x /usr/bin/chromium ]
}

have_all && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "system-deps: installing $PACKAGES"
    if apt-get install -y --no-install-recommends $PACKAGES >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $PACKAGES >/dev/null; }; then
        fc-cache -f >/dev/null 2>&1 || true
        have_all && exit 0
    fi
fi
echo "system-deps: WARNING: missing fonts or HarfBuzz subset library for PDF notices, or Chromium for the browser tests." >&2
echo "system-deps: install them with: sudo apt-get install $PACKAGES" >&2
exit 0
