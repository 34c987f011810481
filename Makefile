# Kameng (卡盟): `make run` to try it, `make test` to prove it.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed
# Alipay's official SDK installs a package named `alipay`, as python-alipay-sdk does: it gets its own virtualenv,
# driven as a subprocess by tests/conformance/test_alipay_official_sdk.py.
ALIPAY_OFFICIAL := .venv-alipay-official
ALIPAY_OFFICIAL_STAMP := $(ALIPAY_OFFICIAL)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
LOAD_SECONDS ?= 60
LOAD_USERS ?= 32

.PHONY: run test lint format migrate demo bench load bench-all clean messages serve-prod worker beat screenshots

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(ALIPAY_OFFICIAL_STAMP): tests/conformance/alipay_official/requirements.txt
	$(PYTHON) -m venv $(ALIPAY_OFFICIAL)
	$(ALIPAY_OFFICIAL)/bin/python -m pip install --quiet -r tests/conformance/alipay_official/requirements.txt
	touch $(ALIPAY_OFFICIAL_STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# Serves the shop and the API on http://127.0.0.1:$(PORT) with a Celery worker + beat beside it.
run: demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	PORT=$(PORT) $(VENV)/bin/celery -A config worker --beat --pool=solo --loglevel=WARNING \
	    --schedule=$(or $(KAMENG_INSTANCE_DIR),instance)/celerybeat-schedule & \
	trap 'kill $$!' EXIT INT TERM; \
	PORT=$(PORT) $(VENV)/bin/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 \
	    --access-logfile -

# Production (see docs/deployment.md): configuration from the environment only; `make migrate` once per release.
METRICS_DIR ?= $(or $(KAMENG_INSTANCE_DIR),instance)/prometheus
serve-prod: $(STAMP)
	KAMENG_ENV=production $(PY) manage.py collectstatic --noinput --verbosity 0
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	KAMENG_ENV=production PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) exec $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi

worker: $(STAMP)
	KAMENG_ENV=production exec $(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-2}

beat: $(STAMP)
	KAMENG_ENV=production exec $(VENV)/bin/celery -A config beat --loglevel=INFO \
	    --schedule=$(or $(KAMENG_INSTANCE_DIR),instance)/celerybeat-schedule

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: $(STAMP)
	$(PY) manage.py makemessages -l en --ignore '.venv/*' --ignore 'instance/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

# The page tests drive Debian's Chromium; CJK fonts make their screenshots readable.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM)"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei

# Lint (ruff; import-linter's layer contracts in pyproject.toml), then the suite on SQLite and on PostgreSQL in
# parallel (see tests/run.sh).
test: $(STAMP) $(BENCH_STAMP) $(ALIPAY_OFFICIAL_STAMP) $(CHROMIUM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	bash tests/run.sh

bench: $(STAMP)
	$(PY) bench/checkout.py

# docs/screenshots/: a fresh demo instance in Debian's Chromium; Chinese and English, phone and desktop widths.
screenshots: $(STAMP) $(CHROMIUM)
	$(PY) docs/screenshots.py

# locust runs the load test (a short one in `make test`, a full one in `make load`).
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Mixed traffic (browse, order + pay, member centre, cancel) on gunicorn + PostgreSQL, then check_invariants.
load: $(BENCH_STAMP)
	$(PY) bench/load.py --seconds $(LOAD_SECONDS) --users $(LOAD_USERS)

# Checkout, renewals, member centre at p99 < 100 ms and the /healthz ceiling, in one table.
bench-all: $(STAMP)
	$(PY) bench/all.py

clean:
	rm -rf $(VENV) $(ALIPAY_OFFICIAL) instance
