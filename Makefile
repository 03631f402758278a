# Bayit+ Soporte — `make run` serves the panel, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test lint bench-seed bench i18n-extract i18n-update clean-instance

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Our catalogues, plus Flask-Admin's Spanish one (its wheel ships a stale .mo).
translations/%.mo: translations/%.po $(VENV)/.installed
	$(BIN)/pybabel compile -f -i $< -o $@ >/dev/null

CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/*.po))

install: $(VENV)/.installed $(CATALOGS)

run: install
	PORT=$(PORT) $(BIN)/flask --app app helpdesk serve --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench-seed: install
	$(BIN)/python bench/demo_seed.py --tickets 100000

i18n-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output -w 100 .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete -w 100
