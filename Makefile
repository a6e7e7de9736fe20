# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install-desktop uninstall-desktop

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app main.py tests bench

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The desktop menu entry and icon, per user (XDG paths). EXEC is the command the entry runs: this
# checkout's by default; `make install-desktop EXEC=catalogue-desk` after `pipx install .`.
XDG_DATA_HOME ?= $(HOME)/.local/share
EXEC ?= $(abspath $(VENV))/bin/catalogue-desk
APPLICATIONS := $(XDG_DATA_HOME)/applications
ICONS := $(XDG_DATA_HOME)/icons/hicolor/scalable/apps

install-desktop:
	mkdir -p $(APPLICATIONS) $(ICONS)
	install -m 644 resources/catalogue-desk.svg $(ICONS)/catalogue-desk.svg
	sed -e 's|^Exec=.*|Exec="$(EXEC)"|' -e 's|^TryExec=.*|TryExec=$(EXEC)|' \
		resources/catalogue-desk.desktop > $(APPLICATIONS)/catalogue-desk.desktop
	chmod 644 $(APPLICATIONS)/catalogue-desk.desktop
	-update-desktop-database $(APPLICATIONS) 2>/dev/null
	-gtk-update-icon-cache -q -t $(XDG_DATA_HOME)/icons/hicolor 2>/dev/null
	@echo "installed $(APPLICATIONS)/catalogue-desk.desktop (runs $(EXEC))"

uninstall-desktop:
	rm -f $(APPLICATIONS)/catalogue-desk.desktop $(ICONS)/catalogue-desk.svg
