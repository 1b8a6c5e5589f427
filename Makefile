# escucha: `make demo` sets everything up and runs the bundled model; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SAMPLE := src/escucha/assets/samples/sample.wav

.PHONY: demo test install browser postgres clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# exact pin: the CPU build; a looser pin pulls gigabytes of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/escucha predict $(SAMPLE)

# Debian's chromium for the browser checks of the HTML reports (skipped with a reason where it
# cannot be installed, e.g. without root or without the package registry).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "make: could not install chromium; browser checks will be skipped"; \
	  else echo "make: chromium missing and cannot be installed here; browser checks will be skipped"; fi; }

# Debian's PostgreSQL for the store's tests, which start a throw-away server of their own in a
# temporary folder (skipped with a reason where it cannot be installed).
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "make: could not install postgresql; the PostgreSQL store checks will be skipped"; \
	  else echo "make: postgresql missing and cannot be installed here; the PostgreSQL store checks will be skipped"; fi; }

test: $(STAMP) browser postgres
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
