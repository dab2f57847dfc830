# CrimeViz: `make run` starts the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-installed
DEV    := $(VENV)/.dev-requirements-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := chromium opencv-doc fonts-dejavu-core ffmpeg postgresql python3-gi gir1.2-gst-rtsp-server-1.0 \
          gstreamer1.0-rtsp gstreamer1.0-plugins-base gstreamer1.0-plugins-good

.PHONY: run test lint system-packages db bench

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(DEV): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(DEV)

# Debian packages the tests need: Chromium for the browser tests, OpenCV's sample videos; FFmpeg and a
# GStreamer RTSP server (run by Debian's python3) for the live-camera tests.
system-packages:
	@missing=""; for p in $(APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

db: $(STAMP)
	$(PY) -m crimeviz db build

run: db
	$(VENV)/bin/streamlit run app.py

# Style, lint and the import layers of ARCHITECTURE.md (contracts in pyproject.toml).
lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: lint system-packages
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m crimeviz bench map
